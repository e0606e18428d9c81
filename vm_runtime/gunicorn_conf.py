"""gunicorn settings for one app instance (a container; two per VM).

Threads, not processes or greenlets: pg8000 and the stripe library use blocking
sockets, so a request waiting ~300 ms on the payment processor just parks its thread
and the other threads keep serving. Override per host with GUNICORN_CMD_ARGS
(e.g. "--bind 127.0.0.1:8101 --threads 16"), which gunicorn applies over this file.
"""

bind = ["0.0.0.0:8000"]
worker_class = "vm_runtime.worker.DrainingThreadWorker"
workers = 1
threads = 32
# Longer than the slowest request (DB 5 s + processor 10 s, x retries), shorter than
# the container's stop timeout (podman stop -t 35) and systemd's TimeoutStopSec (45).
graceful_timeout = 30
timeout = 60
keepalive = 5
backlog = 256
accesslog = None  # each request is logged once, as JSON with its request id, by lending_observability
errorlog = "-"
loglevel = "info"
forwarded_allow_ips = "127.0.0.1,::1"
proc_name = "lending"
# gunicorn 27's control socket defaults to one path per user: two instances would share it.
control_socket_disable = True
