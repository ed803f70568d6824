"""One credential splitter for both LLM clients: a base URL's user:password leaves the URL (which the HTTP
clients log) and is sent as basic auth, the form the redactor knows to hide."""
import base64

from application.llm.credentials import split_credentials
from application.redaction import Redactor


def test_a_url_password_is_sent_as_basic_auth_and_left_out_of_the_url():
    url, headers = split_credentials("http://me:p%40ss@llm:8080/v1")

    assert url == "http://llm:8080/v1"
    assert headers == {"Authorization": "Basic " + base64.b64encode(b"me:p@ss").decode()}
    assert split_credentials("http://llm:8080/v1") == ("http://llm:8080/v1", {})
    assert split_credentials(None) == (None, {})


def test_what_is_sent_is_what_the_redactor_hides():
    base_url = "http://me:p%40ss-word@llm:8080/v1"
    _, headers = split_credentials(base_url)

    shown = Redactor.build(urls={"OPENAI_BASE_URL": base_url}).hide_addresses(f"echo: {headers['Authorization']}")

    assert shown == "echo: ***"
