# test_zulip.py is the emulator itself (named by the project brief), not a test module.
collect_ignore = ["test_zulip.py"]
