"""A small OIDC issuer for Baton's tests: discovery, JWKS, and the authorization code flow
with PKCE, on 127.0.0.1.

    oidc_issuer.py PORT FOLDER

FOLDER holds `jwks.json` and `token.txt` (the signed token the token endpoint hands out); the
test writes them. /authorize approves at once (no user to ask) and redirects back with a code;
/token checks the code, the redirect URI, the client and the PKCE verifier (S256) before it
answers, so a client that gets any of them wrong gets `invalid_grant`.
"""

import base64
import hashlib
import json
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

PORT = int(sys.argv[1])
FOLDER = Path(sys.argv[2])
ISSUER = f"http://127.0.0.1:{PORT}"
CLIENT = "baton-console"
PENDING = {}  # code -> (redirect_uri, challenge)


class Issuer(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self.answer(200, {
                "issuer": ISSUER, "jwks_uri": ISSUER + "/jwks.json",
                "authorization_endpoint": ISSUER + "/authorize", "token_endpoint": ISSUER + "/token",
            })
        elif url.path == "/jwks.json":
            self.answer(200, (FOLDER / "jwks.json").read_bytes())
        elif url.path == "/authorize":
            if (query.get("response_type") != "code" or query.get("client_id") != CLIENT
                    or query.get("code_challenge_method") != "S256" or "openid" not in query.get("scope", "")):
                self.answer(400, {"error": "invalid_request", "got": query})
                return
            code = secrets.token_urlsafe(16)
            PENDING[code] = (query["redirect_uri"], query["code_challenge"])
            back = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
            self.answer(302, b"", [("Location", back)])
        else:
            self.answer(404, {"error": "not_found"})

    def do_POST(self):
        if urlparse(self.path).path != "/token":
            self.answer(404, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length", "0"))
        form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
        redirect, challenge = PENDING.pop(form.get("code", ""), (None, None))
        verifier = form.get("code_verifier", "").encode()
        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if (form.get("grant_type") != "authorization_code" or redirect is None
                or form.get("redirect_uri") != redirect or form.get("client_id") != CLIENT or computed != challenge):
            self.answer(400, {"error": "invalid_grant"})
            return
        token = (FOLDER / "token.txt").read_text().strip()
        self.answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})


ThreadingHTTPServer(("127.0.0.1", PORT), Issuer).serve_forever()
