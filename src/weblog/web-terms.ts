/**
 * Web-analytics vocabulary shared by the analyze job and the report: which requests are static
 * files, where a referrer comes from, which referrers are search engines and what was searched,
 * and what status codes mean. Pure functions over strings; no state.
 */

/**
 * Extensions of static files (lower case, no dot). GoAccess's default list minus `.xml` pages
 * such as sitemaps and feeds, plus modern web formats (webp, avif, woff2, map, wasm).
 */
export const DEFAULT_STATIC_EXTENSIONS: readonly string[] = [
  'css', 'js', 'mjs', 'map', 'json', 'wasm',
  'jpg', 'jpeg', 'png', 'gif', 'webp', 'avif', 'svg', 'ico', 'bmp', 'tif', 'tiff',
  'woff', 'woff2', 'ttf', 'otf', 'eot',
  'mp3', 'mp4', 'webm', 'ogg', 'ogv', 'wav', 'flac', 'avi', 'mov', 'mpeg', 'mpg', 'flv', 'swf',
  'pdf', 'txt', 'csv', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx',
  'zip', 'gz', 'tgz', 'tar', 'rar', '7z', 'bz2', 'xz', 'iso', 'exe', 'dmg', 'apk',
];

/** True when the last path segment ends in `.EXT` with EXT in `extensions` (case-insensitive). */
export function isStaticPath(path: string, extensions: ReadonlySet<string>): boolean {
  const dot = path.lastIndexOf('.');
  if (dot < 0 || dot === path.length - 1) return false;
  if (path.indexOf('/', dot) >= 0) return false;
  const ext = path.slice(dot + 1);
  return extensions.has(ext) || extensions.has(ext.toLowerCase());
}

/**
 * The host of a referrer URL, lower case, without port or user info: `https://www.google.com/x`
 * gives `www.google.com`, `android-app://com.google.android.gm/` gives `com.google.android.gm`.
 * A referrer that is not a URL gives itself, cut at the first `/`.
 */
export function referrerHost(url: string): string {
  const scheme = url.indexOf('://');
  const start = scheme >= 0 ? scheme + 3 : 0;
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 47 || c === 63 || c === 35) {
      end = i; // '/', '?', '#'
      break;
    }
  }
  let host = url.slice(start, end);
  const at = host.lastIndexOf('@');
  if (at >= 0) host = host.slice(at + 1);
  if (!host.startsWith('[')) {
    const colon = host.indexOf(':');
    if (colon >= 0) host = host.slice(0, colon);
  }
  return host.toLowerCase();
}

/** Compiles host patterns (`example.com`, `*.example.com`) into a test; empty list matches nothing. */
export function hostMatcher(patterns: readonly string[]): (host: string) => boolean {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const raw of patterns) {
    const p = raw.trim().toLowerCase();
    if (p === '') continue;
    if (p.startsWith('*.')) suffixes.push(p.slice(1));
    else exact.add(p);
  }
  if (exact.size === 0 && suffixes.length === 0) return () => false;
  return (host) => exact.has(host) || suffixes.some((s) => host.endsWith(s) || host === s.slice(1));
}

/** Search engines by host: a pattern on the host and the engine's name. */
const SEARCH_ENGINES: ReadonlyArray<readonly [RegExp, string]> = [
  [/(^|\.)google\.[a-z]{2,3}(\.[a-z]{2})?$/, 'Google'],
  [/(^|\.)bing\.com$/, 'Bing'],
  [/(^|\.)search\.yahoo\.[a-z.]+$/, 'Yahoo'],
  [/(^|\.)duckduckgo\.com$/, 'DuckDuckGo'],
  [/(^|\.)yandex\.[a-z.]+$/, 'Yandex'],
  [/(^|\.)baidu\.com$/, 'Baidu'],
  [/(^|\.)ecosia\.org$/, 'Ecosia'],
  [/(^|\.)search\.brave\.com$/, 'Brave'],
  [/(^|\.)qwant\.com$/, 'Qwant'],
  [/(^|\.)startpage\.com$/, 'Startpage'],
  [/(^|\.)ask\.com$/, 'Ask'],
  [/(^|\.)search\.aol\.[a-z.]+$/, 'AOL'],
  [/(^|\.)naver\.com$/, 'Naver'],
  [/(^|\.)seznam\.cz$/, 'Seznam'],
  [/(^|\.)sogou\.com$/, 'Sogou'],
  [/(^|\.)so\.com$/, '360 Search'],
];

/** The search engine a referrer host belongs to, or undefined. */
export function searchEngineOf(host: string): string | undefined {
  for (const [re, name] of SEARCH_ENGINES) if (re.test(host)) return name;
  return undefined;
}

/** Query parameters that hold the search terms, tried in this order (Yahoo uses `p`, Baidu `wd`, Yandex `text`). */
export const KEYPHRASE_PARAMS: readonly string[] = ['q', 'text', 'wd', 'p'];

function decodeTerm(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Malformed %-escapes: decode the valid ones only.
    return spaced.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

/**
 * The search terms of a search-engine referrer (`…?q=cheap+shoes` → `cheap shoes`): decoded,
 * lower case, blanks collapsed; undefined when the referrer is not a search engine or has no
 * terms (Google has sent none since 2011 for most users).
 */
export function keyphraseOf(url: string, host = referrerHost(url)): string | undefined {
  return searchEngineOf(host) === undefined ? undefined : searchTermsOf(url);
}

/** The search terms in a URL's query (`q`, `text`, `wd`, `p`), whatever its host; see keyphraseOf. */
export function searchTermsOf(url: string): string | undefined {
  const qm = url.indexOf('?');
  if (qm < 0) return undefined;
  const hash = url.indexOf('#', qm);
  const query = url.slice(qm + 1, hash >= 0 ? hash : undefined);
  const params = new Map<string, string>();
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq);
    if (!params.has(name)) params.set(name, part.slice(eq + 1));
  }
  for (const name of KEYPHRASE_PARAMS) {
    const raw = params.get(name);
    if (raw === undefined) continue;
    const phrase = decodeTerm(raw).toLowerCase().replace(/\s+/g, ' ').trim();
    if (phrase !== '') return phrase;
  }
  return undefined;
}

const STATUS_NAMES: Readonly<Record<number, string>> = {
  100: 'Continue', 101: 'Switching Protocols',
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required', 413: 'Content Too Large', 414: 'URI Too Long',
  415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 418: "I'm a teapot", 421: 'Misdirected Request', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 444: 'No Response (nginx)', 451: 'Unavailable For Legal Reasons',
  499: 'Client Closed Request (nginx)',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? '';
}

/** `2xx` for 200..299 and so on. */
export function statusClass(code: number): string {
  return `${Math.floor(code / 100)}xx`;
}

export const STATUS_CLASS_NAMES: Readonly<Record<string, string>> = {
  '1xx': 'Informational',
  '2xx': 'Success',
  '3xx': 'Redirection',
  '4xx': 'Client error',
  '5xx': 'Server error',
};
