import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { censorLogValue, LOG_REDACT_PATHS, redactText, redactUrl, REDACTED } from './redact.ts';

const runs = Number(process.env.FUZZ_RUNS ?? 300);
const options = { seed: 20_010, numRuns: runs };

/** What a WHATWG parser takes the URL's credentials to be, or undefined when it has none or is no URL. */
function credentialsOf(url: string): { username: string; password: string } | undefined {
  try {
    const u = new URL(url);
    return u.username || u.password ? { username: u.username, password: u.password } : undefined;
  } catch {
    return undefined;
  }
}

describe('redactUrl', () => {
  const table: Array<[string, string]> = [
    ['https://user:pass@host/x', 'https://***@host/x'],
    ['https:///TOKEN@host/x', 'https:///***@host/x'],
    ['https:TOKEN@host/x', 'https:***@host/x'],
    ['https:\\\\u:p@host/x', 'https:***@host/x'],
    ['http:\\\\/: @h/x', 'http:\\\\/***@h/x'],
    ['https://u:p@host@evil/x', 'https://***@evil/x'],
    ['https://us\ter:pa\nss@host', 'https://***@host'],
    ['ssh://git:hunter2@host:22/repo.git', 'ssh://***@host:22/repo.git'],
    ['ssh://us\\er:pw@host/x', 'ssh://***@host/x'],
    ['git+ssh://git:pw@host/x', 'git+ssh://***@host/x'],
    ['//u:p@host/x', '//***@host/x'],
    ['HTTPS://U:P@[::1]:8080/?q=a@b', 'HTTPS://***@[::1]:8080/?q=a@b'],
    // Not credentials: left alone.
    ['https://host/path@x', 'https://host/path@x'],
    ['https://host?u=a@b', 'https://host?u=a@b'],
    ['git@github.com:org/repo.git', 'git@github.com:org/repo.git'],
    ['https://@host/', 'https://@host/'],
    ['not a url', 'not a url'],
  ];
  for (const [input, expected] of table) test(JSON.stringify(input), () => assert.equal(redactUrl(input), expected));

  const special = fc.constantFrom('http', 'https', 'HTTPS', 'ws', 'wss', 'ftp');
  const other = fc.constantFrom('ssh', 'git+ssh', 'git', 'postgres', 'redis', 'x-y.z');
  const slashes = fc.constantFrom('//', '///', '/', '', '\\\\', '/\\', '\\', '////');
  const userinfoPart = fc.string({ unit: 'grapheme', maxLength: 12 });
  const host = fc.oneof(fc.domain(), fc.ipV4(), fc.constant('[::1]'), fc.constant('localhost:9090'));
  const rest = fc.constantFrom('', '/', '/a/b', '/x@y', '?q=1', '?a=b@c#f', '#h@x', '/p?x=u:p@h');

  test('property: built URLs keep everything but their credentials', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.tuple(special, slashes), fc.tuple(other, fc.constant('//'))),
        userinfoPart,
        fc.option(userinfoPart),
        host,
        rest,
        ([scheme, sl], user, pass, h, r) => {
          const url = `${scheme}:${sl}${user}${pass === null ? '' : `:${pass}`}@${h}${r}`;
          const before = credentialsOf(url);
          if (!before) return;
          const redacted = redactUrl(url);
          const a = new URL(url.replace(/[\t\n\r]/g, ''));
          const b = new URL(redacted);
          assert.deepEqual({ username: b.username, password: b.password }, { username: REDACTED, password: '' }, `${url} -> ${redacted}`);
          assert.deepEqual([b.protocol, b.host, b.pathname, b.search, b.hash], [a.protocol, a.host, a.pathname, a.search, a.hash], `${url} -> ${redacted}`);
        },
      ),
      options,
    );
  });

  test('property: any string a URL parser reads as having credentials has none once redacted', () => {
    const piece = fc.constantFrom(
      'https:',
      'http:',
      'ssh:',
      'ftp:',
      'x:',
      '/',
      '//',
      '\\',
      '@',
      ':',
      'a',
      'TOKEN',
      '%40',
      ' ',
      '\t',
      '\n',
      '?',
      '#',
      '[',
      ']',
      '.',
      'host',
      '[::1]',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), fc.string({ maxLength: 4 }), (pieces, noise) => {
        const url = pieces.join('') + noise;
        if (!credentialsOf(url)) return;
        const redacted = redactUrl(url);
        const after = credentialsOf(redacted);
        assert.ok(after === undefined || (after.username === REDACTED && after.password === ''), `${JSON.stringify(url)} -> ${JSON.stringify(redacted)}`);
      }),
      { ...options, numRuns: runs * 10 },
    );
  });
});

describe('redactText', () => {
  test('URLs inside messages, in any form', () => {
    assert.equal(
      redactText("fatal: unable to access 'https://x-access-token:ghp_abc@github.com/o/r.git/': 403"),
      "fatal: unable to access 'https://***@github.com/o/r.git/': 403",
    );
    assert.equal(redactText('invalid repository URL "https:///TOKEN@host/x"'), 'invalid repository URL "https:///***@host/x"');
    assert.equal(redactText('see https:TOKEN@host and ssh://u:pw@h:22/x.'), 'see https:***@host and ssh://***@h:22/x.');
    assert.equal(redactText('Error:https://u:p@h/x'), 'Error:https://***@h/x');
    assert.equal(redactText('address=https:\\/T@h'), 'address=https:\\/***@h');
    assert.equal(redactText('(https://a:b@h), [//c:d@h]'), '(https://***@h), [//***@h]');
    assert.equal(redactText('Authorization: Bearer abc.def and authorization=Basic dXNlcg=='), 'Authorization: *** and authorization=***');
    assert.equal(redactText('GET https://h/api?private_token=s3cr3t&x=1'), 'GET https://h/api?private_token=***&x=1');
    assert.equal(redactText('bad password hunter22 (hunter%2022)', ['hunter22', 'hunter 22']), 'bad password ***** (*****)');
    // Not credentials.
    for (const text of ['git@github.com:org/repo.git: Permission denied', 'mail me: a@example.com', 'https://h/p@x?y=a@b', 'a short pw: abc'])
      assert.equal(redactText(text, ['abc']), text);
  });

  test('linear time on hostile input', () => {
    const t = Date.now();
    redactText('a:'.repeat(200_000) + '@');
    redactText('x//'.repeat(100_000) + '@');
    // Generous bound: a quadratic scan of 400k characters takes minutes.
    assert.ok(Date.now() - t < 5_000);
  });

  const urlChar = fc.constantFrom(...'abcXYZ09:%@.-_~!$&()*+,;=[]\\'.split(''));
  const urlWithCredentials = fc
    .tuple(
      fc.constantFrom('https://', 'https:', 'https:///', 'ssh://', 'http:\\\\', '//'),
      fc.string({ unit: urlChar, minLength: 1, maxLength: 10 }),
      fc.domain(),
      fc.constantFrom('', '/x', '/a?b=c'),
    )
    .map(([s, info, h, r]) => `${s}${info}@${h}${r}`);

  test('property: a URL in a text is redacted as on its own, and the text around it is kept', () => {
    const around = fc.string({ maxLength: 20 }).filter((s) => !/authorization|token|secret|passw|sig|key/i.test(s));
    fc.assert(
      fc.property(around, urlWithCredentials, around, fc.constantFrom(' ', '\n', '\t', "'", '"', ' <', '> '), (a, url, b, sep) => {
        const text = `${a}${sep}${url}${sep}${b}`;
        assert.equal(redactText(text), `${redactText(a)}${sep}${redactText(url)}${sep}${redactText(b)}`);
        const after = credentialsOf(redactText(url));
        if (after) assert.deepEqual(after, { username: REDACTED, password: '' }, url);
      }),
      options,
    );
  });

  test('property: idempotent', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), urlWithCredentials, (text, url) => {
        const once = redactText(`${text} ${url} ${text}`, ['hunter22']);
        assert.equal(redactText(once, ['hunter22']), once);
      }),
      options,
    );
  });
});

describe('log redaction', () => {
  test('secret fields are masked, free text is redacted', () => {
    assert.equal(censorLogValue('s3cr3t', ['password']), REDACTED);
    assert.equal(censorLogValue('Bearer x', ['headers', 'Authorization']), REDACTED);
    assert.equal(censorLogValue('https://u:p@h/x', ['url']), 'https://***@h/x');
    assert.deepEqual(censorLogValue(['a https://u:p@h'], ['problems']), ['a https://***@h']);
    assert.deepEqual(censorLogValue({ message: 'ssh://u:p@h/x', token: 't' }, ['err']), { message: 'ssh://***@h/x', token: REDACTED });
    assert.equal(censorLogValue(3, ['err']), 3);
    assert.ok(LOG_REDACT_PATHS.includes('*.password') && LOG_REDACT_PATHS.includes('url'));
  });

  test('pino takes the paths and the censor', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = pino({ redact: { paths: [...LOG_REDACT_PATHS], censor: censorLogValue } }, stream);
    log.info(
      { url: 'https:///TOKEN@h/x', err: 'fetch https://u:PW@h failed', headers: { Authorization: 'Bearer BT', accept: 'x' }, spec: { password: 'PW2' } },
      'Syncing',
    );
    const line = lines.join('');
    for (const secret of ['TOKEN', 'PW', 'BT', 'PW2']) assert.ok(!line.includes(secret), line);
    assert.match(line, /"accept":"x"/);
  });
});
