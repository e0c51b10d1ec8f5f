# Reference for the grep job's flags: runs GNU grep (with -b, to know each printed line's offset
# and whether it is selected ':' or context '-') on each node's file, then puts what grep printed
# per file into the job's global order: groups of lines (with -A/-B/-C: what grep prints between
# '--'; else one line, or the -o parts of one line) sorted by (time, node, file, offset) of their
# first selected line. A line's time is its own [dd/Mon/yyyy:HH:MM:SS +zzzz], else that of the
# line before it in its file (0 at the start). Python standard library only.
#
# usage: grep_groups.py [--max N] [--after A] NODE=FILE… -- GREP-ARGS…   (-H among them: the job's
# node:path:offset: prefix)
import bisect, datetime, re, subprocess, sys

args = sys.argv[1:]
split = args.index('--')
opts, grep_args = args[:split], args[split + 1:]
with_filename = '-H' in grep_args
grep_args = [a for a in grep_args if a != '-H']
max_count = int(opts[opts.index('--max') + 1]) if '--max' in opts else 0
after = int(opts[opts.index('--after') + 1]) if '--after' in opts else 0
files = [o.split('=', 1) for o in opts if '=' in o]
grouped = any(a in ('-A', '-B', '-C') for a in grep_args)

M = {m: i + 1 for i, m in enumerate(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'])}
tre = re.compile(rb'\[(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\]')


def line_times(data):
    """Start offset and effective time of every line of a file."""
    starts, times, off, last = [], [], 0, 0
    lines = data.split(b'\n')
    if data.endswith(b'\n'):
        lines = lines[:-1]
    for line in lines:
        m = tre.search(line)
        t = None
        if m and m.group(2).decode('latin1').capitalize() in M:
            try:
                d = datetime.datetime(int(m.group(3)), M[m.group(2).decode().capitalize()], int(m.group(1)), int(m.group(4)), int(m.group(5)), int(m.group(6)), tzinfo=datetime.timezone.utc)
                sign = -1 if m.group(7) == b'-' else 1
                t = int(d.timestamp() * 1000) - sign * (int(m.group(8)) * 60 + int(m.group(9))) * 60000
            except ValueError:
                t = None
        if t is None:
            t = last
        else:
            last = t
        starts.append(off)
        times.append(t)
        off += len(line) + 1
    return starts, times


entry_re = re.compile(rb'^(\d+)([:-])(.*)$', re.S)
groups = []  # (key, [(offset, selected, text)], node, file)
for node, path in files:
    with open(path, 'rb') as f:
        starts, times = line_times(f.read())
    out = subprocess.run(['grep', '-a', '-b', *grep_args, path], capture_output=True, env={'LC_ALL': 'C'}).stdout
    lines = out.split(b'\n')[:-1] if out.endswith(b'\n') else out.split(b'\n') if out else []
    current = []
    chunks = []
    for raw in lines:
        if raw == b'--':
            chunks.append(current)
            current = []
            continue
        m = entry_re.match(raw)
        entry = (int(m.group(1)), m.group(2) == b':', m.group(3))
        if not grouped and current and starts[bisect.bisect_right(starts, entry[0]) - 1] != starts[bisect.bisect_right(starts, current[-1][0]) - 1]:
            chunks.append(current)
            current = []
        current.append(entry)
    if current:
        chunks.append(current)
    for chunk in chunks:
        first = next(e for e in chunk if e[1])
        i = bisect.bisect_right(starts, first[0]) - 1
        groups.append(((times[i], node.encode(), path.encode(), starts[i]), chunk, node, path))

groups.sort(key=lambda g: g[0])
printed, out = 0, []
for n, (_, chunk, node, path) in enumerate(groups):
    if grouped and n > 0:
        out.append(b'--')
    trailing = -1
    for offset, selected, text in chunk:
        if trailing == 0:
            break
        if trailing > 0:
            trailing -= 1
            selected = False
        prefix = (f'{node}:{path}' + (':' if selected else '-') + str(offset) + (':' if selected else '-')).encode() if with_filename else b''
        out.append(prefix + text)
        if selected and trailing < 0 and max_count and (printed := printed + 1) >= max_count:
            trailing = after
    if max_count and printed >= max_count:
        break
sys.stdout.buffer.write(b''.join(l + b'\n' for l in out))
