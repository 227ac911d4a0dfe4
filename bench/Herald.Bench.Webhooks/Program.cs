using System.Diagnostics;
using System.Globalization;
using System.Net;
using Herald.Credentials;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Credentials;
using Herald.Storage.Database;
using Herald.Storage.Webhooks;
using Herald.Webhooks;
using Herald.Work;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

// bench/run.sh webhooks [deliveries] [messages per batch]
var deliveries = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50_000;
var batch = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 500;

var received = 0;
var verifiedFirst = false;
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
var receiver = builder.Build();
byte[]? key = null;
receiver.MapPost("/hook", async (HttpContext context) =>
{
    using var reader = new StreamReader(context.Request.Body);
    var body = await reader.ReadToEndAsync(context.RequestAborted);
    if (!verifiedFirst && key is not null)
    {
        // The first one is checked, so that the figure is of signed deliveries, not of requests.
        var at = DateTimeOffset.FromUnixTimeSeconds(long.Parse(context.Request.Headers["webhook-timestamp"].ToString(), CultureInfo.InvariantCulture));
        verifiedFirst = WebhookSignature.Sign(key, context.Request.Headers["webhook-id"].ToString(), at, body) == context.Request.Headers["webhook-signature"].ToString();
    }

    Interlocked.Increment(ref received);
    return Results.Ok();
});
await receiver.StartAsync();
var url = new Uri(receiver.Urls.First() + "/hook");

var directory = Path.Combine(Path.GetTempPath(), $"herald-bench-webhooks-{Guid.NewGuid():N}");
Directory.CreateDirectory(directory);
try
{
    var database = HeraldDatabases.Open(null, directory);
    await database.MigrateAsync(CancellationToken.None);
    var time = TimeProvider.System;
    var vault = new CredentialVault(new SqlCredentialKeyStore(database, time), new NodePassphrase("webhook benchmark passphrase", Path.Combine(directory, "key")));
    var credentialKey = (await vault.GetKeyAsync(initializeDatabase: true, CancellationToken.None)).Key!;
    var store = new SqlWebhookStore(database);
    var secret = WebhookSignature.NewSecret();
    key = WebhookSignature.KeyOf(secret);
    var endpoint = new WebhookEndpoint("bench", ScopePath.Root, url, "benchmark", [], true, time.GetUtcNow(), "bench", null, null);
    await store.AddAsync(endpoint, credentialKey.Seal(secret, SecretNames.WebhookSecret(endpoint.Id)), CancellationToken.None);

    // The deliveries as recorded outcomes write them: one change per message, batch by batch.
    var writing = Stopwatch.StartNew();
    for (var written = 0; written < deliveries; written += batch)
    {
        var changes = Enumerable.Range(written, Math.Min(batch, deliveries - written))
            .Select(i => WebhookPayloads.RecipientChanged($"m{i}", ScopePath.Root, $"r{i}@example.org", "sent", 1, 250, "250 2.0.0 Ok: queued", time.GetUtcNow())!)
            .ToArray();
        await using var connection = await database.OpenAsync(CancellationToken.None);
        await using var write = await database.BeginWriteAsync(connection, Durability.WithNextCommit, CancellationToken.None);
        await WebhookJournal.AppendAsync(database, connection, write.Transaction, changes);
        await write.CommitAsync(CancellationToken.None);
    }

    writing.Stop();
    var options = Options.Create(new WebhookOptions { PollInterval = TimeSpan.FromMilliseconds(50) });
    using var sender = new WebhookSender(options, time);
    using var signal = new WebhookSignal();
    var worker = new WebhookWorker(
        store, vault, sender, signal, new NodeIdentity("bench", []), options, Options.Create(new WorkOptions()), time, NullLoggerFactory.Instance);
    var delivering = Stopwatch.StartNew();
    await worker.StartAsync(CancellationToken.None);
    while (Volatile.Read(ref received) < deliveries)
    {
        await Task.Delay(20);
    }

    delivering.Stop();
    await worker.StopAsync(CancellationToken.None);
    var (_, waiting) = await store.LogAsync("bench", 1, 10, CancellationToken.None);
    Console.WriteLine($"webhook deliveries (SQLite, {Environment.ProcessorCount} cores): {deliveries:N0}, concurrency {options.Value.Concurrency}, claim batch {options.Value.ClaimBatch}");
    Console.WriteLine($"  recorded with their changes: {deliveries / writing.Elapsed.TotalSeconds:N0}/s ({writing.Elapsed.TotalSeconds:N1} s, {batch} per transaction)");
    Console.WriteLine($"  delivered, signed, recorded:  {deliveries / delivering.Elapsed.TotalSeconds:N0}/s ({delivering.Elapsed.TotalSeconds:N1} s); first signature verified: {verifiedFirst}; still waiting after stop: {waiting.Count}");
    vault.Dispose();
}
finally
{
    await receiver.StopAsync();
    Directory.Delete(directory, recursive: true);
}
