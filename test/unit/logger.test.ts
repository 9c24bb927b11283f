import { expect } from 'chai';
import { pino } from 'pino';
import { requestLineWriter } from '../../src/logger';

/** The request log line, written without pino's serialiser (src/logger.ts), is the line pino would write. */
describe('request log line', () => {
  const capture = (level: string) => {
    const lines: string[] = [];
    const logger = pino({ level, base: { pid: 4242, hostname: 'host-1' } }, { write: (chunk: string) => void lines.push(chunk) });
    return { logger, lines };
  };
  const withoutTime = (line: string) => {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.time).to.be.a('number');
    delete parsed.time;
    return parsed;
  };

  it('is the JSON pino writes for the same fields, key for key and in the same order, one line each', () => {
    const { logger, lines } = capture('info');
    const write = requestLineWriter(logger)!;
    for (const url of ['/v1/bunits/3/referrals/5', '/v1/bunits?q="quoted"&\\back\\', '/v1/bunits/ü€𝄞', '/v1/\u0001\u001f\u2028']) {
      const fields = { requestId: 'req-1.a_B', method: 'GET', url, status: 200, ms: 0.512345 };
      logger.info(fields, 'request');
      write(fields);
      const [fromPino, ours] = lines.splice(0, 2);
      expect(ours!.endsWith('}\n') && ours!.indexOf('\n') === ours!.length - 1, ours).to.equal(true);
      expect(withoutTime(ours!), url).to.deep.equal(withoutTime(fromPino!));
      expect(Object.keys(JSON.parse(ours!)), url).to.deep.equal(Object.keys(JSON.parse(fromPino!)));
    }
  });

  it('is not written below info', () => {
    expect(requestLineWriter(capture('warn').logger)).to.equal(null);
    expect(requestLineWriter(capture('silent').logger)).to.equal(null);
  });
});
