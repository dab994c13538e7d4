import Platform

/// `totp-bot --help`.
enum HelpText {
    static let bot = """
        totp-bot \(ProductVersion.current): a Zulip bot that answers DMs like `code certus` with the current TOTP code.

        USAGE
          totp-bot [--zuliprc PATH]          run (a standby until it holds BOT_LOCK_FILE, then the leader)
          totp-bot --check-config            validate the configuration and exit (0 ok, 2 errors)
          totp-bot --healthcheck URL         GET URL, exit 0 on 200 (container probe)
          totp-bot --version | --help

        COMMANDS (DM the bot; case-insensitive)
          code <label>     the current code, the seconds it stays valid, and the next code when
                           fewer than 5 s remain; the reply is edited once the code has expired
          labels           the labels you may request
          help             the commands
          Only 1:1 DMs get codes. Group DMs get a hint when the bot is mentioned; stream messages
          are ignored. A label you may not read and one that does not exist get the same answer.

        ZULIP
          --zuliprc PATH / ZULIP_CONFIG   zuliprc file ([api] email, key, site, cert_bundle);
                                          environment variables below take precedence over it
          ZULIP_SITE       server URL, e.g. https://chat.example.com  (alias ZULIP_ORG_URL)
          ZULIP_EMAIL      the bot's email                              (alias ZULIP_BOT_EMAIL)
          ZULIP_API_KEY    the bot's API key                            (alias ZULIP_BOT_TOKEN)
          ZULIP_CERT_BUNDLE  CA bundle for the Zulip server's certificate
          ZULIP_ALLOW_INSECURE  only false is accepted (overrides the zuliprc's insecure): the bot
                           always verifies Zulip's certificate, so true is refused (exit 2)

        GATEWAYS
          GATEWAY_URLS     comma-separated base URLs tried with failover (HAProxy and/or instances)
          GATEWAY_TOKEN    bearer token the gateways know for the bot
          GATEWAY_CA_FILE  CA bundle for https gateways
          BOT_GATEWAY_ATTEMPT_TIMEOUT_MS  limit per gateway attempt (default 1500)
          BOT_GATEWAY_DEADLINE_MS         limit per code request, failovers included (default 4000);
                                          when no gateway answers the user is told to try again.
                           Up to 4 DMs are answered at once, each user's in order; while every
                           gateway's circuit is open one request probes and the rest fail at once

        ACCESS
          BOT_ACL          "alice@example.com:*;bob@example.com:certus,github;42:demo": sender (email,
                           case-insensitive in ASCII only, or Zulip user id) : * or a comma list of
                           labels. An email grants the one active account that has it now (looked
                           up in Zulip); one that matches none or several grants nothing (logged)
          BOT_ACL_FILE     same entries, one per line (# comments; "who = labels" also accepted)
          ALLOWED_SENDERS  original project's comma-separated senders, each granted *
                           An empty ACL gives nobody a code (the bot says so at start).
          BOT_USER_RATE_BURST       requests a user may make at once (default 5)
          BOT_USER_RATE_PER_MINUTE  sustained requests per user per minute (default 10); over
                                    it a user is told once when to retry, then not answered
                                    until then. Other bots' messages are never answered.

        LEADER ELECTION AND STATE
          BOT_LOCK_FILE    flock()ed by every bot; the holder leads, the others wait and take over
                           at once when it dies (default $BOT_STATE_DIR/leader.lock). A lock file
                           elects one leader per host, or per shared file system whose flock works
                           across clients; across hosts use one shared lock service instead (see README).
                           $BOT_STATE_DIR/leader.lock is locked too. A leader whose lock file is
                           deleted or replaced stops and exits 1 (restart it as a standby)
          BOT_STATE_DIR    watermark.json (default /var/lib/totp-bot): the watermark (every DM up to
                           it is settled), the replies above it, sends in doubt, pending expiry edits,
                           the leader's epoch (a leader behind it stops)
          BOT_CATCHUP_MAX_AGE  after a takeover, a lost queue or a failed reply, DMs after the
                           watermark younger than this many seconds are answered, each once (default 120)

        REPLIES
          BOT_REPLY_DEADLINE_MS  how long a reply is retried (5xx, network errors, 429) before the
                                 DM is left for the next catch-up (default 10000)
          BOT_EXPIRY_EDIT        1/0: edit replies once the code expired (default 1); pending edits
                                 are kept in BOT_STATE_DIR, so a new leader finishes them
          BOT_EXPIRY_EDIT_DELAY  extra seconds after expiry before the edit (default 0)

        OPERATIONS
          BOT_LISTEN       HOST:PORT for /healthz and /metrics (optional, e.g. 127.0.0.1:9101);
                           /healthz is 503 "degraded" while the leader cannot save its state
                           (it answers no DM until it can)
          BOT_LOG_LEVEL    debug | info | warning | error (default info)
          BOT_BACKOFF_INITIAL_MS, BOT_BACKOFF_MAX_MS  Zulip retry back-off (default 1000, 60000)
          BOT_WATCHDOG_STALL_SECONDS  a DM waiting or being answered longer than this stops the
                           leader's WATCHDOG=1 pings, so systemd restarts it (default 60)
          systemd: Type=notify (READY=1 before waiting for the lock), WATCHDOG=1 while waiting
          and after each Zulip call of the leader. SIGTERM: stop taking events, finish the
          replies in progress, do the pending expiry edits, delete the Zulip queue, release the
          lock last, exit 0 (within 18 s).

        Every secret NAME may instead be given as NAME_FILE=/path (ZULIP_API_KEY_FILE,
        GATEWAY_TOKEN_FILE, BOT_ACL_FILE...). Exit codes: 0 ok, 1 runtime failure,
        2 configuration or usage error, 3 Zulip rejected the bot's credentials.
        """
}
