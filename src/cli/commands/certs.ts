// certs, certs:add, certs:remove: the team's own certificate for an app's names, instead of ACME.
import { readFile } from 'node:fs/promises';
import { appPath } from '../client.ts';
import { CliError, printedJson, withProgress, type Command, type CommandContext } from '../command.ts';
import { table } from '../format.ts';
import type { AppCertificate } from '../../wire/types.ts';

async function listCerts(ctx: CommandContext): Promise<void> {
  const certs = await ctx.api().get<AppCertificate[]>(appPath(ctx.app, '/certs'));
  if (printedJson(ctx, certs)) return;
  if (certs.length === 0) return ctx.io.out(`${ctx.app} has no certificate of its own (its names get theirs from the ACME CA).`);
  const rows = certs.map((c) => [c.names.join(', '), c.expiresAt.slice(0, 10), c.issuer, c.fingerprint.slice(0, 16)]);
  table(['NAMES', 'EXPIRES', 'ISSUER', 'SHA-256'], rows).forEach((line) => ctx.io.out(line));
}

async function addCert(ctx: CommandContext): Promise<void> {
  const [certFile, keyFile] = ctx.args;
  const read = (file: string) => readFile(file, 'utf8').catch((err: Error) => { throw new CliError(`cannot read ${file}: ${err.message}`); });
  const [certificate, key] = await Promise.all([read(certFile!), read(keyFile!)]);
  const cert = await withProgress(ctx, `Adding a certificate to ${ctx.app}`, (api) =>
    api.post<AppCertificate>(appPath(ctx.app, '/certs'), { certificate, key }), (added) => `done, for ${added.names.join(', ')}`);
  printedJson(ctx, cert);
}

async function removeCert(ctx: CommandContext): Promise<void> {
  const answer = await withProgress(ctx, `Removing the certificate of ${ctx.app}`, (api) =>
    api.delete<{ deleted: string }>(appPath(ctx.app, '/certs')));
  printedJson(ctx, answer);
}

export const certCommands: Command[] = [
  { name: 'certs', usage: 'APP', summary: "show the app's own certificate", app: true, run: listCerts },
  {
    name: 'certs:add', usage: 'APP CERT.pem KEY.pem', summary: "use your own certificate (and chain) for the app's names",
    app: true, args: [2, 2], run: addCert,
  },
  { name: 'certs:remove', usage: 'APP', summary: 'go back to ACME certificates', app: true, run: removeCert },
];
