"""The VM host: the same Lambda-proxy handlers behind granian, two instances per VM behind nginx.

`routes` reads the routes from functions/*/function.json, `adapter` turns a WSGI request
into the API Gateway proxy event Lambda and `chalice local` deliver and writes the proxy
response back, `wsgi` is what the server serves, `serve` (granian) with `door` drains on SIGTERM without
dropping a connection, and `stack` starts one VM's worth (nginx + two instances) locally.
"""
