import Platform

/// `totp-gateway --help`: every flag and variable, kept in step with the README.
enum HelpText {
    static let gateway = """
    totp-gateway \(ProductVersion.current): serves TOTP codes over HTTP to authenticated clients.

    USAGE
      totp-gateway [--listen HOST:PORT]        run the server (SIGTERM drains, SIGHUP reloads)
      totp-gateway --check-config              validate the configuration and exit (0 ok, 2 errors)
      totp-gateway --healthcheck URL           GET URL, exit 0 on 200 (container probe)
      totp-gateway seal-seeds IN OUT --key-file KEY
                                               encrypt a plain seeds file (AES-256-GCM envelope)
      totp-gateway --version | --help

    ENDPOINTS
      GET /code?label=X[&next=1]   Authorization: Bearer <token>; JSON code and timing
      GET /healthz                 200 ok, 503 while draining, for 10 s after an audit write failed,
                                   or while the clock is unsynchronized if required
      GET /metrics                 Prometheus text format 0.0.4

    SERVER
      GATEWAY_LISTEN               HOST:PORT to listen on (default 127.0.0.1:8080; --listen wins)
      GATEWAY_INSTANCE             instance name in responses and logs (default: the hostname)
      GATEWAY_EVENT_LOOPS          event-loop threads (default: one per CPU)
      GATEWAY_DRAIN_SECONDS        on SIGTERM, seconds /healthz answers 503 before the listener
                                   closes (default 3, from HAProxy's inter 1s/fastinter 250ms/fall 2)
      GATEWAY_SHUTDOWN_GRACE_SECONDS  seconds in-flight requests get after the drain (default 10)
      GATEWAY_HEADER_TIMEOUT_SECONDS  a request head must arrive within this (slowloris; default 10)
      GATEWAY_IDLE_TIMEOUT_SECONDS    keep-alive connections idle this long are closed (default 60)
      GATEWAY_WRITE_TIMEOUT_SECONDS   a client not reading its response for this long is dropped (default 10)
      GATEWAY_MAX_CONNECTIONS         open connections (default 4096); at the cap the connection idle
                                      longest is closed for a new one, or the new one if none is idle
      GATEWAY_MAX_CONNECTIONS_PER_CLIENT  open connections per client address; more are closed at
                                      once (default 256, 0 = no limit; GATEWAY_TRUSTED_PROXIES exempt)
      GATEWAY_LOG_LEVEL            debug | info | warning | error (default info)

    SEEDS (all optional and combinable; a label defined twice is an error)
      TOTP_SEED_<LABEL>            base32 or otpauth://totp/ URI; label = suffix lower-cased, _ -> -
                                   (cannot end in -file: TOTP_SEED_<LABEL>_FILE is the file variant)
      LABELS                       original format "label:seed,label2:seed2"
      TOTP_PERIOD, TOTP_DIGITS     defaults for plain base32 seeds from the environment (30, 6)
      GATEWAY_SEEDS_FILE           file of "label = seed [check=CODE@UNIXTIME]" lines, or a sealed file
      GATEWAY_SEEDS_KEY_FILE       key of a sealed seeds file: 256 bits as 64 hex characters
                                   (openssl rand -hex 32), as base64, or as 32 raw bytes (not text)
      $CREDENTIALS_DIRECTORY       systemd credentials: seeds, seeds-key, tokens, audit-key,
                                   totp-seed-<label>

    CLIENTS
      GATEWAY_TOKENS               "name:secret:labels" entries separated by ; or newlines; labels is *
                                   or a comma list; secret may be sha256:<hex>; secrets under 128 bits
                                   are refused (openssl rand -hex 32)
      API_KEY                      original project's key: one token allowed every label
      GATEWAY_AUTH_FAILURE_LIMIT   failed authentications per client address before 429 (default 10/min)
      GATEWAY_INSECURE_NO_AUTH=1   serve /code without tokens (demo only; logged loudly)
      GATEWAY_RATE_LIMIT           per-token limit, e.g. 60/min, 10/s, off (default 600/min)
      GATEWAY_RATE_BURST           bucket size (default: the per-period count)
      GATEWAY_METRICS_TOKEN        if set, /metrics needs Authorization: Bearer <it>
      GATEWAY_METRICS_PER_LABEL    1: codes issued per label in /metrics (names every label);
                                   default 1 with GATEWAY_METRICS_TOKEN, else 0
      GATEWAY_TRUSTED_PROXIES      IPv4/IPv6 addresses or IPv4 CIDRs whose X-Forwarded-For is logged in the audit

    AUDIT
      GATEWAY_AUDIT_FILE           append audit lines here instead of stderr; no code leaves unless its
                                   line was written (else 503 audit_unavailable)
      GATEWAY_AUDIT_KEY_FILE       key for code_hmac = HMAC-SHA256(key, "label:code") in audit lines
      GATEWAY_REQUIRE_CLOCK_SYNC=1 /healthz is 503 while adjtimex reports an unsynchronized clock

    Files holding keys or tokens must not be readable by group or others (chmod 600; systemd
    credentials exempt, /run/secrets only warned about); plaintext seeds files are warned about.
    Every variable NAME above may instead be given as NAME_FILE=/path (docker secrets), except
    those that are paths already (GATEWAY_SEEDS_FILE, GATEWAY_SEEDS_KEY_FILE, GATEWAY_AUDIT_FILE,
    GATEWAY_AUDIT_KEY_FILE); any other GATEWAY_*_FILE or TOTP_*_FILE is refused as unknown.
    Exit codes: 0 ok, 1 runtime failure, 2 configuration or usage error.
    """
}
