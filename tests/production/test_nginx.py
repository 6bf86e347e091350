"""The production topology: nginx (workers as www-data) serving the built site under /help/ and
proxying /api/ and /healthz to two `kb votes serve` processes on one PostgreSQL schema.

The nginx configuration is the one the README shows (kb/assets/deploy/nginx.conf), with only its
marked lines (ports, paths) changed for the test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from support import MKDOCS_YML, ROOT, free_port, run_kb

pytestmark = pytest.mark.postgres

NGINX_CONF = ROOT / "kb" / "assets" / "deploy" / "nginx.conf"
UA = "Mozilla/5.0 (X11; Linux x86_64) kb-production-test"
SECRET = "shared-visitor-secret-for-the-test"
TOKEN = "admin-token-for-the-test"

ARTICLES = {
    "articles/account/_category.yml": "title: Account\norder: 1\n",
    "articles/account/reset-password.md": """
        ---
        id: reset-password
        title: How do I reset my password?
        questions: [forgot password, change password]
        ---
        Open **Settings**, then **Password**, and follow the link we e-mail you.
        """,
    "articles/account/close-account.md": """
        ---
        id: close-account
        title: How do I close my account?
        ---
        Write to us from the e-mail address of the account.
        """,
}


def nginx_config(site: Path, listen: int, collectors: list[int], run_dir: Path) -> str:
    """The README's nginx.conf with the test's ports and paths (each marked line must be there)."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    for old, new in {
        "listen 80;": f"listen 127.0.0.1:{listen};",
        "alias /srv/help/site/;": f"alias {site}/;",
        "server 127.0.0.1:8001 ": f"server 127.0.0.1:{collectors[0]} ",
        "server 127.0.0.1:8002 ": f"server 127.0.0.1:{collectors[1]} ",
        "pid /run/nginx.pid;": f"pid {run_dir}/nginx.pid;",
        "error_log /var/log/nginx/error.log warn;": f"error_log {run_dir}/error.log warn;",
        "client_body_temp_path /var/lib/nginx/body;": f"client_body_temp_path {run_dir}/body;",
        "proxy_temp_path /var/lib/nginx/proxy;": f"proxy_temp_path {run_dir}/proxy;",
    }.items():
        assert text.count(old) == 1, f"nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"{what} did not start (exit {proc.poll()}):\n{out}")
            time.sleep(0.1)


def start_collector(site: Path, db: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb", "votes", "serve", "--site", str(site), "--db", db, "--port", str(port),
         "--rate-limit", "10", "--visitor-secret", SECRET, "--admin-token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    wait_port(port, proc, f"kb votes serve on {port}")
    return proc


@pytest.fixture
def topology(pg_url):
    """Build the site (readable by www-data), start two collectors and nginx; stop them all after."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is not installed (.ci/run installs nginx-light)") if os.environ.get(
            "KB_REQUIRE_SERVICES") else pytest.skip("nginx is not installed")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    old_umask = os.umask(0o022)  # an operator's usual umask
    root = Path(tempfile.mkdtemp(prefix="kb-production-"))
    procs: list[subprocess.Popen] = []
    try:
        root.chmod(0o755)  # the web server's user must be able to reach the site in it
        project = root / "project"
        for name, text in {"mkdocs.yml": MKDOCS_YML, **ARTICLES}.items():
            path = project / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        run_kb("build", cwd=project, check=True)
        site = project / "site"
        ports = [free_port(), free_port()]
        collectors = [start_collector(site, pg_url, port) for port in ports]
        procs += collectors
        listen = free_port()
        run_dir = root / "nginx"
        run_dir.mkdir()
        conf = run_dir / "nginx.conf"
        conf.write_text(nginx_config(site, listen, ports, run_dir), encoding="utf-8")
        proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(run_dir), "-g", "daemon off;"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proxy)
        wait_port(listen, proxy, "nginx")
        yield {"root": root, "project": project, "site": site, "db": pg_url, "ports": ports,
               "collectors": collectors, "nginx": proxy, "url": f"http://127.0.0.1:{listen}"}
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # nginx's master: a fast shutdown of its workers too
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        os.umask(old_umask)
        shutil.rmtree(root, ignore_errors=True)


def manifest_of(site: Path) -> dict:
    return json.loads((site / "kb-manifest.json").read_text(encoding="utf-8"))


def vote_body(article: str, version: str, **fields) -> dict:
    body = {"vote_id": str(uuid.uuid4()), "article": article, "version": version, "helpful": False,
            "reason": None, "comment": None, "website": ""}
    body.update(fields)
    return body


def exported(db: str) -> dict[str, dict]:
    out = run_kb("votes", "export", "--db", db, cwd=Path.cwd(), check=True)
    return {row["vote_id"]: row for row in map(json.loads, out.stdout.splitlines())}


def test_the_help_center_behind_nginx(topology):
    url, site, db = topology["url"], topology["site"], topology["db"]
    origin = url  # the page's own origin: same-site votes need no --origin
    versions = {a["id"]: a["version"] for a in manifest_of(site)["articles"]}
    client = httpx.Client(base_url=url, headers={"User-Agent": UA, "Origin": origin,
                                                 "Content-Type": "text/plain;charset=UTF-8"}, timeout=15)

    def post(body, **headers):
        return client.post("/api/votes", content=json.dumps(body).encode(), headers=headers)

    # 1. The site as `kb build` left it is readable by nginx's unprivileged workers.
    workers = subprocess.run(["ps", "-o", "user=", "--ppid", str(topology["nginx"].pid)], capture_output=True,
                             text=True, check=True).stdout.split()
    assert workers and set(workers) == {"www-data"}
    assert {oct(p.stat().st_mode & 0o777) for p in [site, *site.rglob("*")] if p.is_dir()} == {"0o755"}
    assert {oct(p.stat().st_mode & 0o777) for p in site.rglob("*") if p.is_file()} == {"0o644"}
    home = client.get("/help/")
    assert (home.status_code, "How do I reset my password?" in home.text) == (200, True)
    page = client.get("/help/account/reset-password/")
    assert page.status_code == 200 and f'content="{versions["reset-password"]}"' in page.text

    # 2. A same-site vote through nginx's proxy_pass (Host is the upstream's name) is accepted.
    first = vote_body("reset-password", versions["reset-password"])
    assert post(first).status_code == 204
    r = post(vote_body("reset-password", versions["reset-password"]), Origin="https://evil.example")
    assert (r.status_code, r.json()) == (403, {"error": "origin not allowed", "field": "Origin"})

    # 3. Its reason and comment arrive later (maybe at the other collector): joined, first wins,
    #    and another visitor cannot attach one.
    for _ in range(2):  # round robin: one of the two goes to each collector
        assert post({**first, "reason": "unclear", "comment": "Which link?"}).status_code == 204
    assert post({**first, "reason": "outdated", "comment": "later"}).status_code == 204
    other = vote_body("close-account", versions["close-account"])
    assert post(other).status_code == 204
    assert post({**other, "reason": "outdated", "comment": "not mine"},
                **{"User-Agent": UA + " someone-else"}).status_code == 204
    rows = exported(db)
    assert (rows[first["vote_id"]]["reason"], rows[first["vote_id"]]["comment"]) == ("unclear", "Which link?")
    assert (rows[other["vote_id"]]["reason"], rows[other["vote_id"]]["comment"]) == (None, None)

    # 4. A page cached before a rebuild votes for the version it shows: still stored, under it.
    old_version = versions["reset-password"]
    article = topology["project"] / "articles" / "account" / "reset-password.md"
    article.write_text(article.read_text(encoding="utf-8") + "\nThe link works for 24 hours.\n", encoding="utf-8")
    run_kb("build", cwd=topology["project"], check=True)
    new_version = manifest_of(site)["articles"][[a["id"] for a in manifest_of(site)["articles"]].index(
        "reset-password")]["version"]
    assert new_version != old_version
    assert client.get("/help/account/reset-password/").status_code == 200  # the rebuilt site is readable too
    stale = vote_body("reset-password", old_version, helpful=True)
    assert post(stale).status_code == 204
    assert exported(db)[stale["vote_id"]]["version"] == old_version
    r = post(vote_body("reset-password", "0badc0de"))
    assert (r.status_code, r.json()["field"]) == (422, "version")

    # 5. Stuffing: 150 votes from one address, each with its own user agent. The per-address limit
    #    (5 x 10 a minute on each of the two collectors) stops a third; the report counts 3.
    codes = [post(vote_body("close-account", versions["close-account"], helpful=False),
                  **{"User-Agent": f"{UA} stuffer-{i}", "X-Forwarded-For": "203.0.113.7"}).status_code
             for i in range(150)]
    assert set(codes) == {204, 429} and 100 <= codes.count(204) < 120
    report = run_kb("report", "--format", "json", "--db", db, "--site", str(site), cwd=Path.cwd())
    assert report.returncode in (0, 1), report.stderr
    counted = {a["id"]: a for a in json.loads(report.stdout)["articles"]}
    # close-account: its own "No", the other visitor's vote... and 3 of the stuffer's.
    assert counted["close-account"]["votes"] == 1 + 3

    # 6. Limits: headers capped (nginx 400 before the collector's 431), a body too deep for the
    #    JSON parser is 422, /healthz fails while writes fail, errors show no URL or path.
    r = client.get("/healthz", headers={"X-Padding": "x" * 20_000})
    assert r.status_code in (400, 431)
    direct = httpx.Client(base_url=f"http://127.0.0.1:{topology['ports'][0]}", timeout=15)
    r = direct.get("/healthz", headers={"X-Padding": "x" * 20_000})
    assert (r.status_code, r.json()) == (431, {"error": "request headers larger than 16384 bytes", "field": None})
    r = client.post("/api/votes", content=b"[" * 1000 + b"]" * 1000)
    assert (r.status_code, r.json()) == (422, {"error": "not valid JSON: nested too deeply", "field": "body"})
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        # Tables the collectors can no longer write (as after a botched migration): votes fail,
        # and so does the health probe's write.
        conn.execute("ALTER TABLE votes RENAME TO kb_test_votes_away")
        conn.execute("ALTER TABLE health_probe RENAME TO kb_test_health_away")
        try:
            failed = [post(vote_body("reset-password", new_version)) for _ in range(2)]
            assert [(r.status_code, r.json()) for r in failed] == [
                (503, {"error": "store unavailable; try again later", "field": None})] * 2
            health = [client.get("/healthz") for _ in range(2)]
            assert [(h.status_code, h.json()["status"], h.json()["store"]) for h in health] == [
                (503, "failing", "cannot write")] * 2
            for answer in [*failed, *health]:
                assert "postgresql" not in answer.text and str(site) not in answer.text
        finally:
            conn.execute("ALTER TABLE kb_test_votes_away RENAME TO votes")
            conn.execute("ALTER TABLE kb_test_health_away RENAME TO health_probe")
    for _ in range(4):
        assert post(vote_body("reset-password", new_version, helpful=True)).status_code == 204
    deadline = time.monotonic() + 5  # each collector probes its store again at most a second later
    while [client.get("/healthz").json()["status"] for _ in range(2)] != ["ok", "ok"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)

    # 7. GET /api/search is rate limited like the other public routes.
    searches = [client.get("/api/search", params={"q": "password"}) for _ in range(30)]
    assert searches[0].status_code == 200 and searches[0].json()["results"][0]["id"] == "reset-password"
    assert {s.status_code for s in searches} == {200, 429}


def test_nginx_serves_bots_text_as_utf8_redirects_help_and_keeps_the_admin_routes_inside(topology):
    url = topology["url"]
    client = httpx.Client(base_url=url, headers={"User-Agent": UA}, timeout=15)
    # /help and / lead to the site, with a Location that keeps the client's own scheme and host.
    for path, code in (("/help", 301), ("/", 302)):
        r = client.get(path)
        assert (r.status_code, r.headers["location"]) == (code, "/help/")
    assert client.get("/help", follow_redirects=True).url.path == "/help/"
    # The Markdown twins and llms.txt say they are UTF-8 text; pages stay HTML.
    twin = client.get("/help/account/reset-password/index.md")
    assert (twin.status_code, twin.headers["content-type"]) == (200, "text/markdown; charset=utf-8")
    assert twin.text.startswith("# How do I reset my password?\n")
    llms = client.get("/help/llms.txt")
    assert (llms.status_code, llms.headers["content-type"]) == (200, "text/plain; charset=utf-8")
    assert client.get("/help/").headers["content-type"] == "text/html; charset=utf-8"
    # The report and exports are not served through the public proxy, whatever the spelling; on a
    # collector's own port, with the token, they are.
    admin = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/api/report", "/api/report/", "/api//report", "/api/%72eport", "/API/Report",
                 "/api/export?table=votes&format=jsonl", "/api/./export?table=votes"):
        r = client.get(path, headers=admin)
        assert (r.status_code, r.headers["content-type"]) == (404, "text/html"), path  # nginx's own 404
    direct = f"http://127.0.0.1:{topology['ports'][0]}"
    assert httpx.get(f"{direct}/api/report", headers=admin, timeout=15).status_code == 200
    assert httpx.get(f"{direct}/api/export", params={"table": "votes"}, headers=admin, timeout=15).status_code == 200
    r = client.get("/api/search", params={"q": "password"})  # the public routes still pass
    assert r.status_code == 200 and r.json()["results"][0]["id"] == "reset-password"


def test_a_missing_page_behind_nginx_is_the_sites_own_404_page(topology):
    client = httpx.Client(base_url=topology["url"], headers={"User-Agent": UA}, timeout=15)
    own = (topology["site"] / "404.html").read_text(encoding="utf-8")
    for path in ("/help/account/no-such-article/", "/help/no-such-page.html"):
        r = client.get(path)
        assert (r.status_code, r.text) == (404, own), path
    # A first folder that looks like a language the site does not have: still a 404, nginx's own.
    r = client.get("/help/xx/no-such-page/")
    assert r.status_code == 404 and r.text != own


def test_a_missing_polish_page_behind_nginx_is_the_polish_404_page(built_demo_site):
    """The demo (English at /, Polish at /pl/) behind the shipped nginx.conf, without collectors."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is not installed (.ci/run installs nginx-light)") if os.environ.get(
            "KB_REQUIRE_SERVICES") else pytest.skip("nginx is not installed")
    old_umask = os.umask(0o022)
    root = Path(tempfile.mkdtemp(prefix="kb-production-"))
    proxy = None
    try:
        root.chmod(0o755)  # readable by nginx's workers (www-data)
        site = shutil.copytree(built_demo_site, root / "site")
        run_dir = root / "nginx"
        run_dir.mkdir()
        listen = free_port()
        conf = run_dir / "nginx.conf"
        conf.write_text(nginx_config(site, listen, [free_port(), free_port()], run_dir), encoding="utf-8")
        proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(run_dir), "-g", "daemon off;"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_port(listen, proxy, "nginx")
        client = httpx.Client(base_url=f"http://127.0.0.1:{listen}", headers={"User-Agent": UA}, timeout=15)
        for path, page in (("/help/pl/nie-ma-takiej-strony/", "pl/404.html"), ("/help/no-such-page/", "404.html")):
            r = client.get(path)
            assert (r.status_code, r.text) == (404, (site / page).read_text(encoding="utf-8")), path
    finally:
        if proxy is not None:
            proxy.send_signal(signal.SIGTERM)
            proxy.wait(timeout=10)
        os.umask(old_umask)
        shutil.rmtree(root, ignore_errors=True)


def test_sigkill_of_one_collector_under_load_loses_no_acknowledged_vote(topology):
    """Clients retrying like the widget (anything but 2xx and 422 is retried) through nginx."""
    url, site, db = topology["url"], topology["site"], topology["db"]
    versions = {a["id"]: a["version"] for a in manifest_of(site)["articles"]}
    acknowledged: list[str] = []
    refused: list[tuple[int, str]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            i = 0
            while not stop.is_set():
                i += 1
                body = vote_body("reset-password", versions["reset-password"], helpful=i % 2 == 0)
                # Each client a different address and browser, as many readers are.
                headers = {"User-Agent": f"{UA} reader-{n}-{i}", "X-Forwarded-For": f"198.51.100.{n}",
                           "Content-Type": "text/plain;charset=UTF-8"}
                for attempt in range(50):
                    try:
                        r = http.post("/api/votes", content=json.dumps(body).encode(), headers=headers)
                    except httpx.HTTPError:
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    if r.is_success:
                        with lock:
                            acknowledged.append(body["vote_id"])
                        break
                    if r.status_code == 422:
                        with lock:
                            refused.append((r.status_code, r.text))
                        break
                    time.sleep(0.05 * (attempt + 1))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    victim = topology["collectors"][0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    stored = set(exported(db))
    assert refused == []
    assert len(acknowledged) > 100
    assert [v for v in acknowledged if v not in stored] == []


def test_nginx_sends_the_assets_precompressed_and_the_pages_compressed(topology):
    site = topology["site"]
    client = httpx.Client(base_url=topology["url"], headers={"User-Agent": UA, "Accept-Encoding": "gzip"}, timeout=15)
    stylesheet = next(site.glob("assets/stylesheets/main.*.min.css"))
    for path in (stylesheet, next(site.glob("assets/javascripts/bundle.*.min.js")), site / "assets/kb/search/worker.js"):
        response = client.get("/help/" + path.relative_to(site).as_posix())
        assert response.headers["content-encoding"] == "gzip"
        # the .gz kb build wrote, sent as it is (gzip_static), which is the file once decoded
        assert int(response.headers["content-length"]) == path.with_name(path.name + ".gz").stat().st_size
        assert response.content == path.read_bytes()
        assert "Accept-Encoding" in response.headers["vary"]
    home = client.get("/help/")  # a page: compressed as it is sent
    assert home.headers["content-encoding"] == "gzip" and "Test Help Center" in home.text
    plain = client.get("/help/" + stylesheet.relative_to(site).as_posix(), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == stylesheet.read_bytes()


def test_the_readme_shows_the_nginx_configuration_the_tests_run():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "```nginx\n" + NGINX_CONF.read_text(encoding="utf-8") + "```\n" in readme


def test_2000_slow_connections_through_nginx_lock_nobody_out(topology):
    """Slowloris through the shipped nginx.conf: from one address, 1,000 connections trickle their
    headers and 1,000 send a vote's headers and stall in its body. Every request from another
    address is still answered, and the address's stalled votes past `limit_conn` get 429 at once."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:  # the test holds 2,000 sockets (nginx's workers set their own limit)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    url, site = topology["url"], topology["site"]
    port = int(url.rsplit(":", 1)[1])
    versions = {a["id"]: a["version"] for a in manifest_of(site)["articles"]}
    body_head = (f"POST /api/votes HTTP/1.1\r\nHost: x\r\nUser-Agent: {UA}\r\nContent-Type: text/plain\r\n"
                 f"Content-Length: 200\r\n\r\n").encode() + b'{"vote_id": '
    slow: list[socket.socket] = []
    try:
        for i in range(2000):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0))
            sock.sendall(b"GET /help/ HTTP/1.1\r\nHost: x\r\n" if i % 2 else body_head)  # and never the rest
            slow.append(sock)
        time.sleep(0.5)
        client = httpx.Client(base_url=url, timeout=15, headers={"User-Agent": UA},
                              transport=httpx.HTTPTransport(local_address="127.0.0.3", retries=0))
        def answer(method: str, path: str, **options) -> int | str:
            try:
                return client.request(method, path, **options).status_code
            except httpx.HTTPError as exc:
                return type(exc).__name__

        answers = []
        for i in range(10):
            vote = vote_body("reset-password", versions["reset-password"], helpful=True)
            answers += [answer("GET", "/help/"), answer("POST", "/api/votes", content=json.dumps(vote).encode()),
                        answer("GET", "/healthz"), answer("GET", "/api/search", params={"q": f"password {i}"})]
        assert answers == [200, 204, 200, 200] * 10
        # The stalled votes: 20 wait in their bodies (limit_conn 20 on /api/), the rest were refused.
        refused = 0
        for sock in slow[0::2]:
            sock.setblocking(False)
            try:
                refused += sock.recv(64).startswith(b"HTTP/1.1 429")
            except BlockingIOError:
                pass
        assert 1000 - 20 <= refused < 1000
    finally:
        for sock in slow:
            sock.close()
