// TLS material for the embedded server: a given certificate, or a self-signed one generated at start (via the
// `selfsigned` package; EC P-256 because it is generated in milliseconds, RSA-2048 takes ~100 ms or more).
import { createSecureContext, type SecureContext } from 'node:tls';

export interface TlsMaterial {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export type TlsOption = TlsMaterial | 'self-signed';

/** Builds the server's secure context; the certificate names localhost and 127.0.0.1 so clients may verify it. */
export async function loadTls(option: TlsOption): Promise<{ context: SecureContext; material: TlsMaterial }> {
  const material = option === 'self-signed' ? await selfSigned() : option;
  return { context: createSecureContext({ cert: material.cert, key: material.key }), material };
}

async function selfSigned(): Promise<TlsMaterial> {
  const now = Date.now();
  // Loaded on demand: the package and its ASN.1 stack cost ~130 ms of start-up, paid only when a certificate is made.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 7 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
