// Upload one file with tus-js-client as a browser that cannot send PATCH would
// (overridePatchMethod), stop after the first chunk, then resume from the server's offset
// in a new Upload (HEAD, then the rest). Prints what it saw as one JSON line.
// Usage: node tus_upload.mjs <endpoint> <token> <file> <recording_id> <chunk_size>
import { readFileSync } from "node:fs";
import * as tus from "tus-js-client";

const [endpoint, token, file, recordingId, chunkText] = process.argv.slice(2);
const data = readFileSync(file);
const chunkSize = Number(chunkText);
const options = {
  endpoint,
  headers: { Authorization: `Bearer ${token}` },
  metadata: { recording_id: recordingId, filename: "clip.mp4" },
  chunkSize,
  overridePatchMethod: true,
  retryDelays: null,
};

function run(extra, stopAfterFirstChunk) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      ...options,
      ...extra,
      onChunkComplete(_size, accepted) {
        if (stopAfterFirstChunk) {
          upload.abort(false).then(() => resolve({ url: upload.url, offset: accepted }));
        }
      },
      onSuccess() {
        resolve({ url: upload.url, offset: data.length, done: true });
      },
      onError(error) {
        reject(error);
      },
    });
    upload.start();
  });
}

try {
  const first = await run({}, true);
  const second = await run({ uploadUrl: first.url }, false);
  console.log(JSON.stringify({ first, second }));
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
