"""gunicorn settings for one app instance (a container; two per VM).

Threads, not processes or greenlets: pg8000 and the stripe library use blocking
sockets, so a request waiting ~300 ms on the payment processor just parks its thread
and the other threads keep serving. Override per host with GUNICORN_CMD_ARGS
(e.g. "--bind 127.0.0.1:8101 --threads 16"), which gunicorn applies over this file.
"""

bind = ["0.0.0.0:8000"]
worker_class = "vm_runtime.worker.DrainingThreadWorker"
workers = 1
# Sized for a 2-core VM facing a slow processor (docs/benchmarks.md): a borrow makes three processor
# calls, so with 300 ms each it holds its thread ~0.9 s while using a few ms of CPU. 160 threads per
# instance, two instances: 320 per VM, so 256 requests can be at the processor at once even when
# nginx's round robin gives one instance more than half (at 128 the bench held at most 251-254). The
# database side stays small: threads share the instance's pool (DB_POOL_SIZE, default 8, the
# connection budget per instance; a VM holds 2 x DB_POOL_SIZE), and no connection is held across
# a processor call, so a pool of 8 serves 160 threads that are mostly waiting on the processor.
threads = 160
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
