"""The VM host: the same Lambda-proxy handlers behind gunicorn, two instances per VM behind nginx.

`routes` reads the routes from functions/*/function.json, `adapter` turns a WSGI request
into the API Gateway proxy event Lambda and `chalice local` deliver and writes the proxy
response back, `wsgi` is what gunicorn serves, `worker` drains on SIGTERM without
dropping a connection, and `stack` starts one VM's worth (nginx + two instances) locally.
"""
