print("totp-bot: not yet")
