# Reference for the grep job's output order; see README.md. Uses only the Python standard library.
import re, sys, datetime
args = sys.argv[1:]
invert = '-v' in args
args = [a for a in args if a != '-v']
pat = args[0].encode()
M = {m:i+1 for i,m in enumerate(['Jan','Feb','Mar','Apr','May','Jun','Jul','Aug','Sep','Oct','Nov','Dec'])}
tre = re.compile(rb'\[(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\]')
rows = []
for node, path in [(a.split('=', 1)[0], a.split('=', 1)[1]) for a in args[1:]]:
    off = 0; last = 0
    with open(path, 'rb') as f:
        data = f.read()
    for line in data.split(b'\n')[:-1] if data.endswith(b'\n') else data.split(b'\n'):
        m = tre.search(line)
        t = None
        if m and m.group(2).decode('latin1').capitalize() in M:
            try:
                d = datetime.datetime(int(m.group(3)), M[m.group(2).decode().capitalize()], int(m.group(1)), int(m.group(4)), int(m.group(5)), int(m.group(6)), tzinfo=datetime.timezone.utc)
                sign = -1 if m.group(7) == b'-' else 1
                t = int(d.timestamp()*1000) - sign*(int(m.group(8))*60+int(m.group(9)))*60000
            except ValueError:  # impossible date: the line has no readable time
                t = None
        if t is None: t = last
        else: last = t
        if (pat in line) != invert: rows.append((t, node.encode(), path.encode(), off, line))
        off += len(line) + 1
rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
sys.stdout.buffer.write(b''.join(r[4]+b'\n' for r in rows))
