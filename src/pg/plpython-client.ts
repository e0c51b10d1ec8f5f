/**
 * The Gearman client that runs inside PostgreSQL (PL/Python 3, `plpython3u`). `geartrain pg
 * install` stores this source once per schema (in `_gman_source()`); each SQL function compiles
 * it on first use in a session and keeps the module in PL/Python's session dictionary `GD`.
 *
 * Python rather than PL/Perl over Gearman::Client: Gearman::Client reports a failure as `undef`
 * without saying whether the server was unreachable, the job failed or time ran out, and the
 * issue asks for SQL errors that say which. This client is stdlib only (socket, select, struct).
 *
 * Facts it relies on (docs/sql.md has the user's view):
 * - PL/Python reports an uncaught exception as `<class name>: <message>`, so the exception class
 *   is named `gearman`, and the errors read `ERROR: gearman: job failed (reverse)`. It subclasses
 *   plpy.Error so that PL/Python takes `sqlstate`, `detail` and `hint` from its attributes.
 * - A blocking socket call cannot be interrupted by query cancel or statement_timeout (PostgreSQL
 *   only sets a flag in its signal handler). Waits therefore run in slices of CHECK_INTERRUPTS_S,
 *   and between slices a prepared `SELECT 1` lets the executor act on that flag; the resulting
 *   QueryCanceled is turned into a `gearman:` error with SQLSTATE 57014.
 * - gearmand forwards WORK_EXCEPTION only to clients that sent OPTION_REQ `exceptions`
 *   (gearmand-notes.md): it is sent once per connection, pipelined with the first submit.
 *
 * The text is Python, kept in a String.raw literal so the esbuild bundle needs no asset loader:
 * it must contain no backtick and no dollar-brace.
 */
export const GEARMAN_CLIENT_PY = String.raw`
import errno
import os
import random
import re
import select
import socket
import struct
import time

DEFAULT_PORT = 4730
DEFAULT_TIMEOUT_MS = 30000
# How often a waiting call lets PostgreSQL act on a cancel request or statement_timeout.
CHECK_INTERRUPTS_S = 0.1
# Largest reply accepted (a text value in PostgreSQL is at most 1 GB).
MAX_PACKET = 256 * 1024 * 1024
# How much of a worker's exception text goes into the error message.
MAX_EXCEPTION_TEXT = 1000

SQLSTATE_CONNECTION = 'YG001'
SQLSTATE_JOB_FAILED = 'YG002'
SQLSTATE_JOB_EXCEPTION = 'YG003'
SQLSTATE_TIMEOUT = 'YG004'
SQLSTATE_SERVER_ERROR = 'YG005'
SQLSTATE_PROTOCOL = 'YG006'
SQLSTATE_INVALID = '22023'
SQLSTATE_NULL = '22004'
SQLSTATE_BAD_TEXT = '22021'
SQLSTATE_CANCELED = '57014'

NOOP = 6
JOB_CREATED = 8
WORK_STATUS = 12
WORK_COMPLETE = 13
WORK_FAIL = 14
ECHO_RES = 17
ERROR = 19
WORK_EXCEPTION = 25
OPTION_REQ = 26
OPTION_RES = 27
WORK_DATA = 28
WORK_WARNING = 29

SUBMIT = {
    ('fg', 'normal'): 7, ('fg', 'high'): 21, ('fg', 'low'): 33,
    ('bg', 'normal'): 18, ('bg', 'high'): 32, ('bg', 'low'): 34,
}
ARG_COUNT = {
    JOB_CREATED: 1, WORK_STATUS: 3, WORK_COMPLETE: 2, WORK_FAIL: 1, ERROR: 2,
    WORK_EXCEPTION: 2, OPTION_RES: 1, WORK_DATA: 2, WORK_WARNING: 2,
}
REQ_MAGIC = b'\x00REQ'
RES_MAGIC = b'\x00RES'


class gearman(plpy.Error):
    """Every error this module raises; PL/Python prints it as 'gearman: <message>'."""
    __module__ = 'builtins'


def fail(sqlstate, message, detail=None, hint=None):
    err = gearman(message)
    err.sqlstate = sqlstate
    if detail:
        err.detail = detail
    if hint:
        err.hint = hint
    return err


def public(f):
    """Entry points: a gearman error leaves without this module's frames, so the SQL error's
    CONTEXT shows the calling SQL function rather than the client's internals."""
    def entry(*args):
        try:
            return f(*args)
        except gearman as e:
            raise e.with_traceback(None) from None
    return entry


HINT_SERVERS = "set the job servers with gman_servers_set('host:port,...') or the geartrain.servers setting"
HINT_TIMEOUT = 'raise the limit with gman_timeout_set(ms) or SET geartrain.timeout_ms'


def parse_servers(text, source):
    """'h:p,[v6]:p,h' -> ['h:p', ...]: the same rules as geartrain's parseServerList."""
    out = []
    for item in text.split(','):
        s = item.strip()
        if not s:
            continue
        port_text = None
        if s.startswith('['):
            close = s.find(']')
            if close < 0:
                raise fail(SQLSTATE_INVALID, 'bad server address %r in %s' % (s, source))
            host, rest = s[1:close], s[close + 1:]
            if rest:
                if not rest.startswith(':'):
                    raise fail(SQLSTATE_INVALID, 'bad server address %r in %s' % (s, source))
                port_text = rest[1:]
        elif s.count(':') == 1:
            host, port_text = s.split(':')
        else:
            host = s
        port = DEFAULT_PORT
        if port_text is not None:
            if not re.fullmatch('[0-9]{1,5}', port_text) or not 1 <= int(port_text) <= 65535:
                raise fail(SQLSTATE_INVALID, 'bad port in %r in %s (expected 1-65535)' % (s, source))
            port = int(port_text)
        if not host:
            raise fail(SQLSTATE_INVALID, 'missing host in %r in %s' % (s, source))
        ident = '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)
        if (host, port, ident) not in out:
            out.append((host, port, ident))
    if not out:
        raise fail(SQLSTATE_INVALID, 'no job server in %s' % source, hint=HINT_SERVERS)
    return out


_plans = {}


def _plan(name, sql, types=()):
    plan = _plans.get(name)
    if plan is None:
        plan = _plans[name] = plpy.prepare(sql, list(types))
    return plan


def settings():
    row = _plan('settings', "SELECT current_setting('geartrain.servers', true) AS servers,"
                " current_setting('geartrain.timeout_ms', true) AS timeout_ms").execute()[0]
    servers_text = (row['servers'] or '').strip()
    source = 'geartrain.servers'
    if not servers_text:
        servers_text, source = DEFAULT_SERVERS, 'the installed default servers'
    timeout_text = (row['timeout_ms'] or '').strip()
    timeout_ms = DEFAULT_TIMEOUT_MS
    if timeout_text:
        if not re.fullmatch('[0-9]{1,10}', timeout_text) or int(timeout_text) < 1:
            raise fail(SQLSTATE_INVALID, 'geartrain.timeout_ms must be a positive number of milliseconds, not %r' % timeout_text,
                       hint=HINT_TIMEOUT)
        timeout_ms = int(timeout_text)
    return parse_servers(servers_text, source), timeout_ms


@public
def servers_set(text):
    if text is None:
        raise fail(SQLSTATE_NULL, 'server list cannot be NULL')
    servers = parse_servers(text, 'gman_servers_set')
    _plan('set_servers', "SELECT set_config('geartrain.servers', $1, false)", ['text']).execute([','.join(s[2] for s in servers)])
    return True


@public
def effective_servers():
    return ','.join(s[2] for s in settings()[0])


class Deadline:
    def __init__(self, timeout_ms, fn):
        self.timeout_ms = timeout_ms
        self.fn = fn
        self.at = time.monotonic() + timeout_ms / 1000.0

    def remaining(self):
        return self.at - time.monotonic()

    def expired(self, doing):
        return fail(SQLSTATE_TIMEOUT, 'timed out after %d ms (%s)' % (self.timeout_ms, self.fn), detail=doing, hint=HINT_TIMEOUT)


def check_interrupts(deadline, doing):
    """Give PostgreSQL a chance to honour query cancel and statement_timeout."""
    try:
        _plan('interrupts', 'SELECT 1').execute()
    except plpy.SPIError as e:
        if getattr(e, 'sqlstate', None) == SQLSTATE_CANCELED:
            raise fail(SQLSTATE_CANCELED, '%s (%s)' % (e.args[0] if e.args else 'canceling statement', deadline.fn), detail=doing)
        raise


def wait_for(sock, events, deadline, doing):
    """Wait until sock is ready for events (select.POLLIN / POLLOUT), the deadline, or a cancel."""
    poller = select.poll()
    poller.register(sock, events | select.POLLERR | select.POLLHUP)
    while True:
        left = deadline.remaining()
        if left <= 0:
            raise deadline.expired(doing)
        if poller.poll(int(min(left, CHECK_INTERRUPTS_S) * 1000) + 1):
            return
        check_interrupts(deadline, doing)


class ConnectionLost(Exception):
    pass


class Connection:
    def __init__(self, ident, sock):
        self.ident = ident
        self.sock = sock
        self.buf = bytearray()
        self.fresh = True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def idle_and_open(self):
        """True if nothing arrived since the last call: no EOF (server restart) and no stray packet."""
        poller = select.poll()
        poller.register(self.sock, select.POLLIN | select.POLLERR | select.POLLHUP)
        return not poller.poll(0) and not self.buf

    def send(self, data, deadline, doing):
        view = memoryview(data)
        while view:
            try:
                n = self.sock.send(view)
                view = view[n:]
            except (BlockingIOError, InterruptedError):
                wait_for(self.sock, select.POLLOUT, deadline, doing)
            except OSError as e:
                raise ConnectionLost(e.strerror or str(e))

    def read_packet(self, deadline, doing):
        while True:
            if len(self.buf) >= 12:
                ptype, size = struct.unpack('>II', self.buf[4:12])
                if bytes(self.buf[0:4]) != RES_MAGIC:
                    raise fail(SQLSTATE_PROTOCOL, 'bad reply from %s (%s): not a Gearman response' % (self.ident, deadline.fn))
                if size > MAX_PACKET:
                    raise fail(SQLSTATE_PROTOCOL, 'reply of %d bytes from %s exceeds %d bytes (%s)' % (size, self.ident, MAX_PACKET, deadline.fn))
                if len(self.buf) >= 12 + size:
                    body = bytes(self.buf[12:12 + size])
                    del self.buf[:12 + size]
                    count = ARG_COUNT.get(ptype, 1)
                    return ptype, body.split(b'\x00', count - 1) if count > 1 else [body]
            try:
                chunk = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                wait_for(self.sock, select.POLLIN, deadline, doing)
                continue
            except OSError as e:
                raise ConnectionLost(e.strerror or str(e))
            if not chunk:
                raise ConnectionLost('closed by the server')
            self.buf += chunk


def request(ptype, *args):
    body = b'\x00'.join(args)
    return REQ_MAGIC + struct.pack('>II', ptype, len(body)) + body


def open_socket(host, port, deadline):
    doing = 'connecting to %s:%d' % (host, port)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    last = None
    for family, kind, proto, _, addr in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            code = sock.connect_ex(addr)
            if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
                wait_for(sock, select.POLLOUT, deadline, doing)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code == 0:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            last = OSError(code, os.strerror(code))
        except BaseException:
            sock.close()
            raise
        sock.close()
    raise last or OSError(errno.EHOSTUNREACH, 'no address')


# One connection per job server, kept for the session (as pgGearman's libgearman client does).
_connections = {}
_next = [random.randrange(1 << 30)]


def connect(servers, deadline):
    """A connection to the first reachable server, trying them in round-robin order."""
    failures = []
    listed = set(s[2] for s in servers)
    for ident in [i for i in _connections if i not in listed]:
        _connections.pop(ident).close()
    start = _next[0] % len(servers)
    _next[0] += 1
    for host, port, ident in servers[start:] + servers[:start]:
        conn = _connections.pop(ident, None)
        if conn is not None:
            if conn.idle_and_open():
                return conn
            conn.close()
        try:
            return Connection(ident, open_socket(host, port, deadline))
        except OSError as e:  # socket.gaierror included
            failures.append('%s: %s' % (ident, e.strerror or e))
    idents = ', '.join(s[2] for s in servers)
    raise fail(SQLSTATE_CONNECTION, 'cannot connect to %s' % idents, detail='; '.join(failures), hint=HINT_SERVERS)


def text_of(data):
    return data.decode('utf-8', 'replace')


@public
def call(mode, priority, fn, data):
    """Submit fn(data); 'fg' waits for and returns the result, 'bg' returns the job handle."""
    if fn is None:
        raise fail(SQLSTATE_NULL, 'function name cannot be NULL')
    if data is None:
        raise fail(SQLSTATE_NULL, 'workload cannot be NULL (%s)' % fn)
    if not fn:
        raise fail(SQLSTATE_INVALID, 'function name cannot be empty')
    servers, timeout_ms = settings()
    deadline = Deadline(timeout_ms, fn)
    conn = connect(servers, deadline)
    keep = False
    try:
        result = run(conn, mode, priority, fn, data.encode('utf-8'), deadline)
        keep = True
        return result
    except ConnectionLost as e:
        raise fail(SQLSTATE_CONNECTION, 'connection to %s lost (%s)' % (conn.ident, fn), detail=str(e))
    finally:
        if keep:
            _connections[conn.ident] = conn
        else:
            conn.close()


def run(conn, mode, priority, fn, payload, deadline):
    packets = b''
    option_pending = conn.fresh
    if option_pending:
        packets += request(OPTION_REQ, b'exceptions')
        conn.fresh = False
    packets += request(SUBMIT[(mode, priority)], fn.encode('utf-8'), b'', payload)
    doing = 'submitting the job to %s' % conn.ident
    conn.send(packets, deadline, doing)
    handle = None
    chunks = []
    while True:
        ptype, args = conn.read_packet(deadline, doing)
        if ptype == OPTION_RES:
            option_pending = False
        elif ptype == ERROR:
            code = text_of(args[0])
            if option_pending and code == 'UNKNOWN_OPTION':
                option_pending = False
                continue
            message = text_of(args[1]) if len(args) > 1 else ''
            raise fail(SQLSTATE_SERVER_ERROR, 'server %s answered %s: %s (%s)' % (conn.ident, code, message, fn))
        elif ptype == JOB_CREATED and handle is None:
            handle = args[0]
            if mode == 'bg':
                return text_of(handle)
            doing = 'waiting for the result of job %s on %s' % (text_of(handle), conn.ident)
        elif handle is None or args[0] != handle:
            continue
        elif ptype == WORK_DATA:
            chunks.append(args[1] if len(args) > 1 else b'')
        elif ptype == WORK_WARNING:
            plpy.notice('gearman: warning from job %s (%s): %s' % (text_of(handle), fn, text_of(args[1] if len(args) > 1 else b'')))
        elif ptype == WORK_COMPLETE:
            chunks.append(args[1] if len(args) > 1 else b'')
            try:
                return b''.join(chunks).decode('utf-8')
            except UnicodeDecodeError as e:
                raise fail(SQLSTATE_BAD_TEXT, 'result of the job is not valid UTF-8 (%s)' % fn, detail=str(e))
        elif ptype == WORK_FAIL:
            raise fail(SQLSTATE_JOB_FAILED, 'job failed (%s)' % fn, detail='job %s on %s' % (text_of(handle), conn.ident))
        elif ptype == WORK_EXCEPTION:
            text = text_of(args[1] if len(args) > 1 else b'')
            if len(text) > MAX_EXCEPTION_TEXT:
                text = text[:MAX_EXCEPTION_TEXT] + '...'
            raise fail(SQLSTATE_JOB_EXCEPTION, 'job failed (%s): %s' % (fn, text), detail='job %s on %s raised an exception' % (text_of(handle), conn.ident))
`;
