import Platform

/// `totp-bot --help`: the commands, then every variable from the settings table
/// (`BotSettings`), so the list cannot drift from what the bot reads.
enum HelpText {
    static var bot: String {
        let table = BotSettings.table
        return """
        totp-bot \(ProductVersion.current): a Zulip bot that answers DMs like `code certus` with the current TOTP code.

        USAGE
          totp-bot [--zuliprc PATH]          run (a standby until it holds BOT_LOCK_FILE, then the leader)
          totp-bot --check-config            validate the configuration and exit (0 ok, 2 errors): it
                                             refuses what totp-bot would refuse at start
          totp-bot --healthcheck URL         GET URL, exit 0 on 200 (container probe)
          totp-bot --version | --help

        COMMANDS (DM the bot; case-insensitive)
          code <label> [reason]  the current code, the seconds it stays valid, and the next code
                           when fewer than 5 s remain; the reply is edited once the code has
                           expired. Under a policy with approvers the reply gives a request
                           number and whom it waits for; the code follows once approved. When
                           another person got the current code in this time step, the reply
                           gives the next one and the second it starts (a code works once)
          approve <n> / deny <n> [why]  decide a request you were asked about (or react
                           :+1: / :-1: to the bot's message asking you)
          pending          the requests waiting for your approval
          grants           your approvals still running and when they end
          labels           the labels you may request (and which need approval)
          help             the commands
          Only 1:1 DMs get codes. Group DMs get a hint when the bot is mentioned; stream messages
          are ignored. A label you may not read and one that does not exist get the same answer.

        \(table.help())

        \(SettingsTable.paragraph("""
            systemd: Type=notify (READY=1 once the signal handlers are in place, before waiting for \
            the lock), WATCHDOG=1 while waiting and while the leader's Zulip loop and reply path move. \
            SIGTERM: stop taking events, finish the replies in progress, do the pending expiry edits, \
            delete the Zulip queue, release the lock last, exit 0 (within 18 s); a second SIGTERM \
            exits at once (1).
            """))

        \(SettingsTable.paragraph("""
            These may instead be given as NAME_FILE=/path: \(table.fileVariables.joined(separator: ", ")). \
            Exit codes: 0 ok, 1 runtime failure, 2 configuration or usage error, 3 Zulip rejected the \
            bot's credentials.
            """))
        """
    }
}
