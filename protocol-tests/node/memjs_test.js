// memjs speaks the binary protocol. Exits non-zero on the first wrong answer.
const memjs = require("memjs");
const assert = require("assert");

async function main() {
  const server = process.env.CACHE_SERVER;
  if (!server) throw new Error("set CACHE_SERVER=host:port");
  const client = memjs.Client.create(server, { retries: 0, timeout: 2 });
  const key = "memjs-" + Date.now();
  await client.set(key, "hello", { expires: 0 });
  const { value, flags } = await client.get(key);
  assert.strictEqual(value.toString(), "hello");
  assert.ok(flags);
  assert.strictEqual(await client.add(key, "again"), false);
  assert.strictEqual(await client.replace(key + "-missing", "x"), false);
  await client.set(key + "-n", "10");
  const incr = await client.increment(key + "-n", 5, {});
  assert.strictEqual(incr.value, 15);
  const decr = await client.decrement(key + "-n", 100, {});
  assert.strictEqual(decr.value, 0);
  await client.append(key, " world");
  await client.prepend(key, ">");
  // memjs 1.3.2 sends its prepend as an append (memcached gives the same answer).
  assert.strictEqual((await client.get(key)).value.toString(), "hello world>");
  assert.strictEqual(await client.touch(key, 100), true);
  assert.strictEqual(await client.delete(key), true);
  assert.strictEqual((await client.get(key)).value, null);
  const stats = await new Promise((resolve, reject) =>
    client.stats((err, server, s) => (err ? reject(err) : resolve(s))));
  assert.ok("curr_items" in stats && "cmd_get" in stats);
  assert.match(stats.version, /^1\.6\./);
  await client.flush();
  client.close();
  console.log("memjs: all checks passed");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
