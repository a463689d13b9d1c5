import t from 'tap';
import { parseEnvFile } from '../../../src/core/env-file.js';

t.test('KEY=value lines, comments, quotes and spaces as systemd reads them', async (t) => {
  const parsed = parseEnvFile([
    '# weftd.env', '; also a comment', '', 'WEFTD_ETCD_ENDPOINTS=https://10.0.0.1:2379,https://10.0.0.2:2379',
    '  WEFTD_NODE_NAME = node7  ', 'WEFTD_ETCD_PASSWORD="s3cret with spaces"', "WEFTD_IFACE='eth1'", 'WEFTD_PUBLIC_IP=', 'WEFTD_LOG_LEVEL=info\r',
  ].join('\n'));
  t.ok(parsed.ok);
  if (!parsed.ok) return;
  t.same(Object.fromEntries(parsed.values), {
    WEFTD_ETCD_ENDPOINTS: 'https://10.0.0.1:2379,https://10.0.0.2:2379', WEFTD_NODE_NAME: 'node7',
    WEFTD_ETCD_PASSWORD: 's3cret with spaces', WEFTD_IFACE: 'eth1', WEFTD_PUBLIC_IP: '', WEFTD_LOG_LEVEL: 'info',
  });
});

t.test('anything else is an error naming the line', async (t) => {
  t.same(parseEnvFile('WEFTD_A=1\nexport WEFTD_B=2\njust words\nWEFTD_C="open\n'), {
    ok: false, errors: ['line 2: "export WEFTD_B=2" is not KEY=value', 'line 3: "just words" is not KEY=value', 'line 4: the value of WEFTD_C has an unclosed quote'],
  });
});
