import pytest

from application.ingest.parsers import DocumentError, parse_file
from tests.conftest import make_encrypted_pdf, make_pdf


def test_pdf_pages_keep_their_numbers(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(["Revenue grew by ten percent.", "", "Costs fell in the third quarter."]))
    document = parse_file(path)
    assert document.kind == "pdf"
    assert [(s.page, s.text) for s in document.sections] == [
        (1, "Revenue grew by ten percent."),
        (3, "Costs fell in the third quarter."),
    ]


def test_html_drops_scripts_and_styles_and_uses_the_title(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<html><head><title>Handbook</title><style>p{}</style></head><body><p>Hello <b>team</b></p>"
                    "<script>steal()</script></body></html>")
    document = parse_file(path)
    assert document.title == "Handbook"
    assert "Hello" in document.sections[0].text and "team" in document.sections[0].text
    assert "steal" not in document.sections[0].text and "p{}" not in document.sections[0].text


def test_markdown_title_is_the_first_heading(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("Intro line\n\n# The Guide\n\nBody")
    assert parse_file(path).title == "The Guide"


def test_non_utf8_text_is_decoded_not_refused(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Le café coûte trois euros. Déjà payé, merci beaucoup à vous.".encode("cp1252"))
    assert "café coûte" in parse_file(path).sections[0].text


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.txt", b"", "is empty"),
        ("blank.md", b"  \n\n\t ", "has no text"),
        ("program.txt", bytes(range(256)) * 4, "binary"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "not a readable PDF"),
        ("data.xyz", b"hello", "unsupported type"),
    ],
)
def test_unreadable_files_raise_a_readable_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason):
        parse_file(path)


def test_an_encrypted_pdf_says_to_decrypt_it(tmp_path):
    with pytest.raises(DocumentError, match="encrypted PDF"):
        parse_file(make_encrypted_pdf(tmp_path))


def test_cyrillic_windows_text_is_decoded_too(tmp_path):
    path = tmp_path / "ru.txt"
    path.write_bytes("Привет, как дела? Это тестовый документ о возврате денег.".encode("cp1251"))
    assert "возврате денег" in parse_file(path).sections[0].text
