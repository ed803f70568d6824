"""The web source: a page, a sitemap or a crawl of a real local site (tests/web_site.py) into files.

Every test runs with a guard on ``socket.create_connection``: a connection to anything but 127.0.0.1
fails the test, so the refusals are shown to happen before any connection is made.
"""
from __future__ import annotations

import gzip
import socket
import time
import tracemalloc
from dataclasses import replace

import pytest

from application.ingest import web
from application.ingest.documents import SourceError
from application.ingest.web import WebLimits, check_url, fetch_web
from tests.web_site import (BOILERPLATE_PHRASES, LOGIN_SITE, Hang, Huge, Page, Redirect, Sitemap, html_page,
                            robots_txt, serve_site)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def connections(monkeypatch):
    """Every address a connection was opened to; anything but 127.0.0.1 fails the test."""
    opened = []
    create_connection = socket.create_connection

    def only_loopback(address, *args, **kwargs):
        opened.append(address[0])
        if address[0] != "127.0.0.1":
            raise AssertionError(f"a test connected to {address[0]}")
        return create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", only_loopback)
    return opened


@pytest.fixture
def site():
    with serve_site() as running:
        yield running


@pytest.fixture
def limits():
    return WebLimits(delay_seconds=0, timeout_seconds=2, allow_private=True)


def uris(result, site):
    return {document.uri.removeprefix(site.base_url) for document in result.documents}


def text_of(result, site, path):
    document = next(d for d in result.documents if d.uri == site.url(path))
    return document.path.read_text(encoding="utf-8")


# -- what a page becomes ---------------------------------------------------------------------
def test_a_page_becomes_its_main_text_as_markdown_without_navigation_or_footer(site, limits, tmp_path):
    result = fetch_web(site.url("/docs/install"), "page", limits, tmp_path)

    [document] = result.documents
    assert document.uri == site.url("/docs/install") and document.origin == site.url("/docs/install")
    assert document.title == "Installing the widget | Example Docs"
    assert document.path.parent == tmp_path and document.path.suffix == ".md"
    text = document.path.read_text(encoding="utf-8")
    assert text.startswith("# Installing the widget\n")
    assert "\n## Requirements\n" in text and "\n## Usage\n" in text
    assert "12 volt supply" in text and "green button" in text
    for phrase in BOILERPLATE_PHRASES:
        assert phrase not in text
    assert result.complete and not result.failed and not result.skipped


def test_tables_and_names_with_underscores_are_kept(site, limits, tmp_path):
    result = fetch_web(site.url("/docs/configure"), "page", limits, tmp_path)

    text = result.documents[0].path.read_text(encoding="utf-8")
    assert "| GEAR_RATIO | 3 |" in text and "QUIET_MODE" in text


def test_a_page_without_a_title_heading_gets_its_title_as_the_first_line(site, limits, tmp_path):
    site.pages["/docs/plain"] = ("<html><head><title>Plain page</title></head><body><div><p>"
                                 + "A paragraph of plain text about widgets and their gears. " * 4
                                 + "</p></div></body></html>")

    result = fetch_web(site.url("/docs/plain"), "page", limits, tmp_path)

    assert result.documents[0].path.read_text(encoding="utf-8").startswith("# Plain page\n\nA paragraph")


def test_a_changed_or_deleted_page_is_read_as_it_is_now(site, limits, tmp_path):
    site.pages["/docs/install"] = html_page("Installing, 2nd edition", "<p>" + "The new way to install. " * 5 + "</p>")
    result = fetch_web(site.url("/docs/install"), "page", limits, tmp_path / "1")
    assert "The new way to install." in result.documents[0].path.read_text(encoding="utf-8")

    del site.pages["/docs/install"]
    with pytest.raises(SourceError, match=r"/docs/install answered 404 Not Found"):
        fetch_web(site.url("/docs/install"), "page", limits, tmp_path / "2")


def test_a_page_without_main_text_fails_with_a_clear_line(site, limits, tmp_path):
    site.pages["/docs/empty"] = html_page("Empty", "").replace("<h1>Empty</h1>", "")
    site.pages["/sitemap.xml"] = Sitemap(["/docs/empty", "/docs/install"])

    result = fetch_web(site.url("/sitemap.xml"), "auto", limits, tmp_path)

    assert uris(result, site) == {"/docs/install"}
    assert result.failed == [(site.url("/docs/empty"),
                              f"{site.url('/docs/empty')} has no main text (a login page or an empty page?)")]


# -- sitemaps --------------------------------------------------------------------------------
def test_a_sitemap_lists_the_pages_that_are_read(site, limits, tmp_path):
    result = fetch_web(site.url("/sitemap.xml"), "auto", limits, tmp_path)

    assert uris(result, site) == {"/docs/install", "/docs/configure", "/docs/manual.pdf", "/docs/upgrade"}
    pdf = next(d for d in result.documents if d.uri.endswith(".pdf"))
    assert pdf.path.suffix == ".pdf" and pdf.path.read_bytes().startswith(b"%PDF-")
    assert result.complete and not result.failed
    assert site.requested("/") == 0 and site.requested("/docs/") == 0


def test_a_redirect_chain_is_followed_to_the_page_it_ends_at(site, limits, tmp_path):
    result = fetch_web(site.url("/sitemap.xml"), "sitemap", limits, tmp_path)

    upgrade = next(d for d in result.documents if d.uri == site.url("/docs/upgrade"))
    assert upgrade.origin == site.url("/docs/old-install")
    assert "Upgrading replaces the gear box" in upgrade.path.read_text(encoding="utf-8")


def test_a_sitemap_index_lists_the_sitemaps_whose_pages_are_read(site, limits, tmp_path):
    result = fetch_web(site.url("/sitemap_index.xml"), "auto", limits, tmp_path)

    assert uris(result, site) == {"/docs/install", "/docs/configure", "/blog/release-2"}
    assert result.complete


def test_a_sitemap_longer_than_max_pages_is_read_in_part_and_incomplete(site, limits, tmp_path):
    result = fetch_web(site.url("/sitemap.xml"), "sitemap", replace(limits, max_pages=2), tmp_path)

    assert uris(result, site) == {"/docs/install", "/docs/configure"}
    assert not result.complete


def test_a_child_sitemap_that_cannot_be_read_makes_the_listing_incomplete(site, limits, tmp_path):
    del site.pages["/sitemap-blog.xml"]

    result = fetch_web(site.url("/sitemap_index.xml"), "sitemap", limits, tmp_path)

    assert uris(result, site) == {"/docs/install", "/docs/configure"}
    assert not result.complete
    assert result.failed == [(site.url("/sitemap-blog.xml"), f"{site.url('/sitemap-blog.xml')} answered 404 Not Found "
                                                             "(removed or moved?)")]


def test_a_gzipped_sitemap_is_read_and_markdown_is_kept_as_markdown(site, limits, tmp_path):
    site.pages["/docs/readme.md"] = Page("# Readme\n\nSome *widget* notes.\n", "text/markdown; charset=utf-8")
    site.pages["/sitemap.xml.gz"] = Page(gzip.compress(site.sitemap_xml(["/docs/install", "/docs/readme.md"])),
                                         "application/gzip")

    result = fetch_web(site.url("/sitemap.xml.gz"), "auto", limits, tmp_path)

    assert uris(result, site) == {"/docs/install", "/docs/readme.md"}
    assert text_of(result, site, "/docs/readme.md") == "# Readme\n\nSome *widget* notes.\n"


def test_mode_sitemap_refuses_a_page_that_is_no_sitemap(site, limits, tmp_path):
    with pytest.raises(SourceError, match=r"/docs/install is not a sitemap .*; add it with mode crawl or page"):
        fetch_web(site.url("/docs/install"), "sitemap", limits, tmp_path)


# -- crawls ----------------------------------------------------------------------------------
def test_a_crawl_reads_the_root_folder_and_honours_robots_txt(site, limits, tmp_path):
    result = fetch_web(site.url("/docs/"), "crawl", limits, tmp_path)

    assert uris(result, site) == {"/docs/", "/docs/install", "/docs/configure", "/docs/manual.pdf", "/docs/notes.txt",
                                  "/docs/upgrade", "/docs/advanced/", "/docs/advanced/tuning"}
    assert result.skipped == [(site.url("/docs/private/keys"), "robots.txt disallows it")]
    assert site.requested("/docs/private/keys") == 0
    # other folders, images, styles, fragments and query strings: never asked for
    for path in ("/", "/blog/", "/careers", "/docs/logo.png", "/docs/style.css"):
        assert site.requested(path) == 0, path
    assert site.requested("/docs/install") == 1
    assert next(d for d in result.documents if d.uri.endswith("notes.txt")).path.suffix == ".txt"
    assert result.complete


def test_a_crawl_follows_links_up_to_max_depth(site, limits, tmp_path):
    one = fetch_web(site.url("/docs/"), "crawl", replace(limits, max_depth=1), tmp_path / "1")
    two = fetch_web(site.url("/docs/"), "crawl", replace(limits, max_depth=2), tmp_path / "2")

    assert "/docs/install" in uris(one, site) and "/docs/advanced/" not in uris(one, site)
    assert "/docs/advanced/" in uris(two, site) and "/docs/advanced/tuning" not in uris(two, site)
    # the depth is part of what the source is: a deeper page is not "gone", it was never in it
    assert one.complete and two.complete


def test_auto_on_a_page_with_max_depth_zero_reads_just_that_page(site, limits, tmp_path):
    result = fetch_web(site.url("/docs/"), "auto", replace(limits, max_depth=0), tmp_path)

    assert uris(result, site) == {"/docs/"}
    assert site.requested("/docs/install") == 0


def test_a_crawl_cut_short_by_max_pages_is_incomplete(site, limits, tmp_path):
    result = fetch_web(site.url("/docs/"), "crawl", replace(limits, max_pages=3), tmp_path)

    assert len(result.documents) == 3
    assert not result.complete
    assert len([seen for seen in site.requests if seen.path != "/robots.txt"]) == 3


def test_a_crawl_of_a_site_root_stays_on_the_site(site, limits, tmp_path):
    result = fetch_web(site.url("/"), "crawl", limits, tmp_path)

    assert {"/", "/blog/", "/blog/release-2", "/docs/", "/docs/install"} <= uris(result, site)
    assert ("http://127.0.0.1:%d/careers" % site.port, f"{site.url('/careers')} answered 404 Not Found "
                                                       "(removed or moved?)") in result.failed
    assert not result.complete  # /careers could have linked to more pages


def test_include_and_exclude_globs_choose_the_pages(site, limits, tmp_path):
    excluded = fetch_web(site.url("/docs/"), "crawl", limits, tmp_path / "1", exclude=("advanced", "*.txt"))
    included = fetch_web(site.url("/docs/"), "crawl", limits, tmp_path / "2", include=("docs/*.pdf",))

    assert not {"/docs/advanced/", "/docs/advanced/tuning", "/docs/notes.txt"} & uris(excluded, site)
    assert "/docs/install" in uris(excluded, site)
    assert uris(included, site) == {"/docs/manual.pdf"}  # the root is followed, not kept


def test_progress_counts_the_pages_read(site, limits, tmp_path):
    calls = []
    result = fetch_web(site.url("/docs/"), "crawl", limits, tmp_path,
                       progress=lambda done, total: calls.append((done, total)))

    assert [done for done, _ in calls] == list(range(1, len(calls) + 1))
    assert all(done <= total for done, total in calls)
    assert calls[-1] == (len(result.documents), len(result.documents))


# -- politeness ------------------------------------------------------------------------------
def test_every_request_names_docstune_as_its_user_agent(site, limits, tmp_path):
    fetch_web(site.url("/docs/"), "crawl", limits, tmp_path)

    assert site.requests and all(seen.user_agent == limits.user_agent for seen in site.requests)
    assert limits.user_agent.startswith("DocsTune/")


def test_requests_to_a_host_are_delay_seconds_apart(site, limits, tmp_path):
    fetch_web(site.url("/docs/install"), "page", replace(limits, delay_seconds=0.3), tmp_path)

    robots, page = site.requests
    assert page.at - robots.at >= 0.29


def test_a_larger_crawl_delay_in_robots_txt_replaces_delay_seconds(site, limits, tmp_path):
    site.pages["/robots.txt"] = robots_txt(crawl_delay=1)

    fetch_web(site.url("/docs/install"), "page", limits, tmp_path)

    robots, page = site.requests
    assert page.at - robots.at >= 0.95


def test_a_robots_txt_that_disallows_everything_is_a_source_error(site, limits, tmp_path):
    site.pages["/robots.txt"] = robots_txt(disallow=["/"])

    with pytest.raises(SourceError, match=r"robots.txt of http://127.0.0.1:\d+ disallows http://127.0.0.1:\d+/docs/"):
        fetch_web(site.url("/docs/"), "crawl", limits, tmp_path)
    assert [seen.path for seen in site.requests] == ["/robots.txt"]


def test_robots_txt_for_docstune_by_name_is_honoured(site, limits, tmp_path):
    site.pages["/robots.txt"] = robots_txt(disallow=["/docs/install"], user_agent="DocsTune")

    result = fetch_web(site.url("/docs/"), "crawl", limits, tmp_path)

    assert "/docs/install" not in uris(result, site) and site.requested("/docs/install") == 0


def test_an_unreachable_robots_txt_reads_nothing(site, limits, tmp_path):
    site.pages["/robots.txt"] = Page("busy", "text/plain", status=503)

    with pytest.raises(SourceError, match=r"robots.txt of .* could not be read \(it answered 503 Service "):
        fetch_web(site.url("/docs/"), "crawl", limits, tmp_path)
    assert site.requested("/docs/") == 0


# -- limits ----------------------------------------------------------------------------------
def test_a_redirect_loop_fails_one_page_and_the_others_are_read(site, limits, tmp_path):
    result = fetch_web(site.url("/sitemap-trouble.xml"), "auto", replace(limits, max_bytes=1 << 20),
                       tmp_path)

    assert uris(result, site) == {"/docs/configure"}
    assert (site.url("/docs/loop-a"), f"{site.url('/docs/loop-a')} redirects more than 5 times (a redirect loop?)") \
        in result.failed
    assert site.requested("/docs/loop-a") + site.requested("/docs/loop-b") == 6
    assert (site.url("/docs/video"), f"{site.url('/docs/video')} is video/mp4, not a web page, PDF, text or Markdown") \
        in result.skipped


def test_a_page_larger_than_max_bytes_fails_quickly_without_being_read_whole(site, limits, tmp_path):
    site.pages["/sitemap.xml"] = Sitemap(["/docs/huge", "/docs/huge-unsized", "/docs/install"])
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = fetch_web(site.url("/sitemap.xml"), "auto", replace(limits, max_bytes=1 << 20),
                           tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert time.monotonic() - started < 10
    assert uris(result, site) == {"/docs/install"}
    assert sorted(result.failed) == [(site.url(path), f"{site.url(path)} is larger than 1 MB (WEB_MAX_BYTES)")
                                     for path in ("/docs/huge", "/docs/huge-unsized")]
    assert peak < 24 << 20
    assert site.bytes_sent["/docs/huge-unsized"] < 25 << 20  # the server was hung up on long before 50 MB


def test_a_page_that_never_answers_fails_within_the_timeout(site, limits, tmp_path):
    site.pages["/sitemap.xml"] = Sitemap(["/docs/slow", "/docs/install"])
    started = time.monotonic()

    result = fetch_web(site.url("/sitemap.xml"), "auto", replace(limits, timeout_seconds=1), tmp_path)

    assert time.monotonic() - started < 4
    assert result.failed == [(site.url("/docs/slow"), f"{site.url('/docs/slow')} did not answer within 1 s")]
    assert uris(result, site) == {"/docs/install"}


def test_a_site_that_serves_only_a_login_page_is_a_source_error(limits, tmp_path):
    with serve_site(dict(LOGIN_SITE), login_required=True) as site:
        with pytest.raises(SourceError) as raised:
            fetch_web(site.url("/docs/"), "crawl", limits, tmp_path)

    message = str(raised.value)
    assert message.startswith(f"No page of {site.url('/docs/')} could be read: {site.url('/login')} has no main text")
    assert message.endswith("(login required?)")


# -- what is refused -------------------------------------------------------------------------
def test_check_url_gives_the_url_normalised(limits):
    assert check_url(" HTTP://127.0.0.1:80/docs/a b?x=1#part ", limits) == "http://127.0.0.1/docs/a%20b?x=1"
    assert check_url("https://127.0.0.1:8443", limits) == "https://127.0.0.1:8443/"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/docs/", "javascript:alert(1)",
                                 "docs.example.com/guide", "mailto:docs@example.com"])
def test_a_url_that_is_not_http_is_a_source_error(url, limits, tmp_path, connections):
    with pytest.raises(SourceError, match="not an http"):
        check_url(url, limits)
    with pytest.raises(SourceError, match="not an http"):
        fetch_web(url, "auto", limits, tmp_path)
    assert connections == []


@pytest.mark.parametrize("host, address", [
    ("169.254.169.254", "169.254.169.254 (link-local)"), ("10.0.0.1", "10.0.0.1"),
    ("127.0.0.1", "127.0.0.1 (loopback)"),
    ("[::1]", "::1 (loopback)"), ("0.0.0.0", "0.0.0.0 (unspecified)"), ("192.168.1.20", "192.168.1.20"),
    ("[::ffff:10.1.2.3]", "::ffff:10.1.2.3"), ("100.64.0.1", "100.64.0.1 (not public)"),
])
def test_private_and_link_local_addresses_are_refused_without_connecting(host, address, tmp_path, connections):
    limits = WebLimits(delay_seconds=0)

    with pytest.raises(SourceError) as raised:
        check_url(f"http://{host}/latest/meta-data/", limits)
    assert f"resolves to a private address {address}; set WEB_ALLOW_PRIVATE=true to allow it" in str(raised.value)
    with pytest.raises(SourceError, match="private address"):
        fetch_web(f"http://{host}/latest/meta-data/", "page", limits, tmp_path)
    assert connections == []


def test_the_local_site_is_read_only_with_allow_private(site, tmp_path):
    with pytest.raises(SourceError, match=r"127.0.0.1 \(loopback\); set WEB_ALLOW_PRIVATE=true"):
        fetch_web(site.url("/docs/"), "crawl", WebLimits(delay_seconds=0), tmp_path)
    assert site.requests == []


def test_a_redirect_to_a_private_address_is_refused_without_connecting(site, limits, tmp_path, monkeypatch,
                                                                       connections):
    # the site plays a public one: 127.0.0.1 passes the check, every other private address does not
    checked = web._non_public_kind
    monkeypatch.setattr(web, "_non_public_kind", lambda address: None if address == "127.0.0.1" else checked(address))
    site.pages["/docs/metadata"] = Redirect("http://169.254.169.254/latest/meta-data/")
    site.pages["/sitemap.xml"] = Sitemap(["/docs/metadata", "/docs/install"])

    result = fetch_web(site.url("/sitemap.xml"), "auto", replace(limits, allow_private=False),
                       tmp_path)

    assert uris(result, site) == {"/docs/install"}
    assert result.failed == [(site.url("/docs/metadata"),
                              f"{site.url('/docs/metadata')} redirects to http://169.254.169.254/latest/meta-data/, "
                              "which resolves to a private address 169.254.169.254 (link-local); "
                              "set WEB_ALLOW_PRIVATE=true to allow it")]
    assert set(connections) == {"127.0.0.1"}


def test_a_name_that_resolves_elsewhere_on_the_second_lookup_cannot_reach_a_private_address(
        site, tmp_path, monkeypatch, connections):
    # DNS rebinding: the check sees a public address, the connection would get 127.0.0.1
    resolve = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.test":
            return resolve(host, port, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    with pytest.raises(SourceError, match=r"resolves to a private address 127.0.0.1 \(loopback\)"):
        fetch_web(f"http://rebind.test:{site.port}/docs/install", "page", WebLimits(delay_seconds=0), tmp_path)
    assert site.requests == [] and connections == []


def test_a_host_name_that_does_not_resolve_is_a_source_error(limits, tmp_path, connections):
    with pytest.raises(SourceError, match=r"The host name nonexistent.invalid of http://nonexistent.invalid/ could "
                                          r"not be resolved \(.+\): is it spelled right"):
        fetch_web("http://nonexistent.invalid/", "auto", limits, tmp_path)
    assert connections == []
