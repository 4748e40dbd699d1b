"""`triage-bot sandbox`: a Slack-like web UI over the emulator, driving the real bot as Slack would.

``runtime`` starts everything in one process; ``app`` is the UI's WSGI app, ``pages`` / ``messages`` /
``blockkit`` / ``mrkdwn`` render the workspace as safe HTML, ``driver`` turns what a person does on the page
into signed Slack requests, ``changes`` tells open pages when to refresh, ``clock`` is the fast-forwardable
clock the bot and the emulator share. Production code never imports this package.
"""
