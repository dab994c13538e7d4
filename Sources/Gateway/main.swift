print("totp-gateway: not yet")
