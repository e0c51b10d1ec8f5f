# Reference for `geartrain run sort --by bytes [--desc]` on clean combined logs: every line, by the
# 10th field (bytes; '-' is 0), ties by (node, file, byte offset). Python standard library only.
import sys
args = sys.argv[1:]
desc = '--desc' in args
args = [a for a in args if a != '--desc']
rows = []
for spec in args:
    node, path = spec.split('=', 1)
    off = 0
    with open(path, 'rb') as f:
        for line in f.read().split(b'\n')[:-1]:
            fields = line.split(b' ')
            b = 0 if fields[9] == b'-' else int(fields[9])
            rows.append((-b if desc else b, node.encode(), path.encode(), off, line))
            off += len(line) + 1
rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
sys.stdout.buffer.write(b''.join(r[4] + b'\n' for r in rows))
