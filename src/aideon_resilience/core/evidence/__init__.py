"""What a run recorded: the evidence timeline (its event kinds, reader and writer), the Locust
windows and the chaos journals."""
