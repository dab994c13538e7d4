"""The original project's gateway, rebuilt for the benchmark: FastAPI, seeds from the
environment (TOTP_SEED_<LABEL>), pyotp, one API key. Run: uvicorn fastapi_gateway:app.

Two spellings of the same endpoint, both common in FastAPI code: `app` declares it
`async def` (runs on the event loop), `app_sync` declares it plain `def` (FastAPI runs it in
its thread pool). The benchmark measures both; the `async def` one is the faster baseline."""
import hmac
import os
import time

import pyotp
from fastapi import FastAPI, Header, HTTPException

SEEDS = {k[len("TOTP_SEED_"):].lower().replace("_", "-"): v for k, v in os.environ.items() if k.startswith("TOTP_SEED_")}
API_KEY = os.environ.get("API_KEY", "")
PERIOD = int(os.environ.get("TOTP_PERIOD", "30"))
INSTANCE = os.environ.get("GATEWAY_INSTANCE", "fastapi")


def answer(label, authorization):
    if not hmac.compare_digest(authorization, f"Bearer {API_KEY}"):
        raise HTTPException(status_code=401, detail="unauthorized")
    seed = SEEDS.get(label)
    if seed is None:
        raise HTTPException(status_code=404, detail="unknown label")
    now = int(time.time())
    totp = pyotp.TOTP(seed, interval=PERIOD)
    return {"label": label, "code": totp.at(now), "period": PERIOD, "digits": 6, "algorithm": "SHA1",
            "remaining": PERIOD - now % PERIOD, "expires_at": now - now % PERIOD + PERIOD, "instance": INSTANCE}


app = FastAPI()


@app.get("/code")
async def code(label: str, authorization: str = Header(default="")):
    return answer(label, authorization)


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


app_sync = FastAPI()


@app_sync.get("/code")
def code_sync(label: str, authorization: str = Header(default="")):
    return answer(label, authorization)


@app_sync.get("/healthz")
def healthz_sync():
    return {"status": "ok"}
