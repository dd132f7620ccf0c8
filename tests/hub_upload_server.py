"""The write half of the Hub's HTTP API, for tests: olah serves repos for reading but answers 405 to
uploads, so this server takes `huggingface_hub`'s uploads (create repo, create branch, list a tree,
preupload, commit) and commits them into the same git mirrors olah reads, where loads see them.

Run as `python tests/hub_upload_server.py PORT MIRRORS`; it prints READY once listening.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

REPO_PATH = re.compile(r"/api/models/([^/]+)/([^/]+)/(branch|preupload|commit|tree)/([^?]+)")


def git(repo: Path, *args: str) -> str:
    ident = ["-c", "user.name=hub", "-c", "user.email=hub@seqzoo.invalid", "-c", "commit.gpgsign=false"]
    out = subprocess.run(["git", "-C", str(repo), *ident, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


class UploadHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mirrors: Path

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _repo(self, org: str, name: str) -> Path:
        return self.mirrors / "models" / org / name

    def do_GET(self) -> None:  # noqa: N802 - the http.server interface
        found = REPO_PATH.match(urllib.parse.urlsplit(self.path).path)
        if not found or found[3] != "tree":
            return self._reply(404, {"error": "not found"})
        repo, revision = self._repo(found[1], found[2]), urllib.parse.unquote(found[4])
        files = git(repo, "ls-tree", "-r", "--long", revision).splitlines()
        entries = []
        for line in files:
            meta, path = line.split("\t", 1)
            _, _, oid, size = meta.split()
            entries.append({"type": "file", "path": path, "oid": oid, "size": int(size)})
        return self._reply(200, entries)

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path = urllib.parse.urlsplit(self.path).path
        if path == "/api/repos/create":
            return self._create(json.loads(body))
        if path == "/api/validate-yaml":
            return self._reply(200, {})
        found = REPO_PATH.match(path)
        if not found:
            return self._reply(404, {"error": "not found"})
        org, name, kind, revision = found[1], found[2], found[3], urllib.parse.unquote(found[4])
        repo = self._repo(org, name)
        if not repo.is_dir():
            return self._reply(404, {"error": "Repository not found"})
        if kind == "branch":
            if revision in git(repo, "branch", "--format=%(refname:short)").split():
                return self._reply(409, {"error": "Reference already exists"})
            git(repo, "branch", revision, "main")
            return self._reply(200, {})
        if kind == "preupload":
            files = json.loads(body)["files"]
            modes = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
            return self._reply(200, {"files": modes})
        return self._commit(repo, f"{org}/{name}", revision, body)

    def _create(self, request: dict) -> None:
        org, name = request.get("organization"), request["name"]
        if org is None:
            org, name = name.split("/", 1)
        repo = self._repo(org, name)
        url = f"http://{self.headers['Host']}/{org}/{name}"
        if repo.exists():
            return self._reply(409, {"error": "You already created this model repo", "url": url})
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        (repo / ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", "initial commit")
        return self._reply(200, {"url": url})

    def _commit(self, repo: Path, repo_id: str, revision: str, body: bytes) -> None:
        """Apply the NDJSON commit (header, files, deletions) on `revision` as one git commit."""
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        git(repo, "checkout", "-q", revision)
        try:
            summary = ""
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "header":
                    summary = value["summary"]
                elif key == "file":
                    target = repo / value["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(base64.b64decode(value["content"]))
                elif key in ("deletedFile", "deletedFolder"):
                    git(repo, "rm", "-rq", value["path"])
                else:
                    return self._reply(400, {"error": f"unsupported commit operation {key}"})
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "--allow-empty", "-m", summary)
            sha = git(repo, "rev-parse", "HEAD")
        finally:
            git(repo, "checkout", "-q", "main")
        url = f"http://{self.headers['Host']}/{repo_id}/commit/{sha}"
        return self._reply(200, {"commitUrl": url, "commitOid": sha, "success": True})

    def log_message(self, *args: object) -> None:  # quiet: the tests read the answers, not a log
        pass


def main() -> None:
    port, mirrors = int(sys.argv[1]), Path(sys.argv[2])
    UploadHandler.mirrors = mirrors
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), UploadHandler)
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
