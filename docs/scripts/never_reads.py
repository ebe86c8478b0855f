#!/usr/bin/env python3
"""A hub subscriber that never reads, against the conformance server: how long
until the server lets it go (docs/RELIABILITY.md). Run from the repository root
after `cargo build -p ssekit-conformance`:  python3 docs/scripts/never_reads.py axum"""
import socket, subprocess, time, json, urllib.request, sys
adapter=sys.argv[1]
p=subprocess.Popen(["target/debug/conformance-server","--adapter",adapter],stdout=subprocess.PIPE)
line=p.stdout.readline().decode(); port=int(line.strip().rsplit(":",1)[1])
base=f"http://127.0.0.1:{port}"
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1",port))
s.sendall(b"GET /hub/subscribe?topic=t HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
def stats():
    return json.loads(urllib.request.urlopen(base+"/hub/stats").read())["subscribers"]
while stats()!=1: time.sleep(0.05)
body=b"x"*16384
t0=time.time()
for i in range(400):
    urllib.request.urlopen(urllib.request.Request(base+"/hub/publish?topic=t",data=body,method="POST")).read()
t1=time.time()
while stats()!=0 and time.time()-t0<150: time.sleep(0.5)
print(adapter, "published 6.25 MiB in", round(t1-t0,1),"s; subscriber count back to", stats(), "after", round(time.time()-t1,1), "s")
p.terminate(); p.wait()
