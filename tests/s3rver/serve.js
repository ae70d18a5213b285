// The S3 server of the tier tests: s3rver on loopback, with one bucket,
// writing a line per request ("METHOD URL STATUS") to a log, so the tests
// can count what tierd sent by method.
//
//   node serve.js DIR ADDRESS PORT BUCKET REQUEST_LOG
'use strict';
const fs = require('fs');
const S3rver = require('s3rver');

const [dir, address, port, bucket, logPath] = process.argv.slice(2);
if (!logPath) {
  console.error('usage: node serve.js DIR ADDRESS PORT BUCKET REQUEST_LOG');
  process.exit(2);
}
const log = fs.openSync(logPath, 'a');
const server = new S3rver({
  directory: dir,
  address,
  port: Number(port),
  silent: true,
  configureBuckets: [{ name: bucket }],
});
server.run((err, addr) => {
  if (err) {
    console.error(`s3rver: ${err.message}`);
    process.exit(1);
  }
  server.httpServer.on('request', (req, res) => {
    res.on('finish', () =>
      fs.writeSync(log, `${req.method} ${req.url} ${res.statusCode}\n`));
  });
  console.log(`s3rver listening on ${addr.address}:${addr.port}`);
});
