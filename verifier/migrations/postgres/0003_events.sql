-- The agent's attributed runtime events (eBPF) that came with a result's evidence (JSON:
-- the evidence's event slice), if any: who loaded a program, opened a socket, wrote the routes.
-- Advisory, like the log entries' annotations: not bound by the PCR.
ALTER TABLE results ADD COLUMN events TEXT;
