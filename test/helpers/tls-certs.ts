/**
 * A private CA and a server certificate it signed for 127.0.0.1 and localhost, made by `openssl`
 * when the test starts (nothing is checked in), as an office's internal index would have.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface PrivateCa {
  /** the CA certificate (PEM): what --ca-bundle points at */
  readonly caPem: string
  /** the server's key and certificate (PEM), for node:https createServer */
  readonly key: string
  readonly cert: string
}

/** undefined when openssl is missing or fails; see skipOrFailWithoutOpenssl. */
export async function makePrivateCa(): Promise<PrivateCa | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'tuf-proxy-ca-'))
  const at = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  try {
    execFileSync('openssl', ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=tuf-proxy test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', at('ca.key'), '-out', at('ca.pem')], { stdio: 'ignore' })
    execFileSync('openssl', ['req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', at('server.key'), '-out', at('server.csr')], { stdio: 'ignore' })
    await writeFile(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
    execFileSync('openssl', ['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial',
      '-days', '1', '-extfile', at('ext.cnf'), '-out', at('server.pem')], { stdio: 'ignore' })
    const [caPem, key, cert] = await Promise.all([readFile(at('ca.pem'), 'utf8'), readFile(at('server.key'), 'utf8'), readFile(at('server.pem'), 'utf8')])
    return { caPem, key, cert }
  } catch {
    return undefined
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Without openssl there is no certificate to test with: a loud skip locally, a failure under CI (.ci/run installs it). */
export function skipOrFailWithoutOpenssl(t: { skip(message: string): void }): void {
  if (process.env.CI === 'true') throw new Error('openssl is required under CI to make a test certificate')
  t.skip('openssl is not available to make a test certificate')
}
