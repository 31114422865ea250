/**
 * The TLS 1.2 cipher suites Rampart's servers offer devices: ECDHE key
 * exchange (forward secrecy) with an AEAD cipher only — no CBC (Lucky13 and
 * padding oracles), no SHA-1 MACs, no static RSA or finite-field DHE.
 * Node's default list still has CBC and SHA-1 suites for old browsers; a
 * device fleet has no such clients. ECDSA first: Rampart's certificates are
 * P-256. TLS 1.3 suites are all AEAD and stay as Node sets them.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Options every Rampart TLS server facing devices uses: TLS 1.2 at least, the suites above, in the server's order. */
export const DEVICE_TLS_SERVER_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: TLS12_CIPHERS,
  honorCipherOrder: true,
} as const;
