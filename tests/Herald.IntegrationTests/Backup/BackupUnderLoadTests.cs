using System.Text;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.Storage.Database;
using Herald.Testing;

namespace Herald.IntegrationTests.Backup;

/// <summary>
/// <c>herald backup</c> of a real <c>herald serve</c> on SQLite while producers keep submitting
/// through the API and the upstream is down (every message stays queued), then
/// <c>herald restore</c> into a new data directory served with the same credential key: every
/// message acknowledged before the backup started is there and reaches the upstream, which sees
/// the sealed SMTP password opens there.
/// </summary>
public sealed class BackupUnderLoadTests(PostfixFixture postfix, ITestOutputHelper output)
{
    private const string Passphrase = "backup tests' TEST key: marigold-anvil-copper-93";

    [Fact]
    public async Task Every_message_acknowledged_before_a_backup_under_load_is_restored_and_delivers_with_the_sealed_password()
    {
        // The upstream is down while the node takes mail; it comes back for the restored node.
        using var sink = SmtpSink.Start();
        sink.Stop();
        using var cli = new HeraldCommandLine();
        var environment = new Dictionary<string, string>(OutboxNode.FastRetries);
        foreach (var (name, value) in environment)
        {
            cli.Environment[name] = value;
        }

        // The key lives in the data directory's key file, which herald key set writes.
        var keySet = await cli.RunWithInputAsync(Passphrase + "\n", "key", "set");
        Assert.True(keySet.ExitCode == 0, keySet.ToString());
        var keyFile = Path.Combine(cli.DataDirectory, "credential.key");
        Assert.True(File.Exists(keyFile));

        await OutboxNode.MustAsync(cli, "smtp", "set", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none", "--from", "herald@example.org");
        // /hr sends through Postfix's listener that relays only for the fixture's account: its
        // sealed password is what the restored node must still open.
        var configured = await cli.RunWithInputAsync(postfix.SaslPassword + "\n",
            "smtp", "connection", "set", "authenticated", "--server", "127.0.0.1", "--port", $"{postfix.StartTlsAuthPort}", "--security", "starttls-required",
            "--trust-ca", postfix.Pki("ca.pem"), "--auth", "plain", "--username", postfix.SaslUser, "--password-stdin");
        Assert.True(configured.ExitCode == 0, configured.ToString());
        await OutboxNode.MustAsync(cli, "scope", "add", "/hr");
        await OutboxNode.MustAsync(cli, "smtp", "set", "--scope", "/hr", "--connection", "authenticated");
        var apiKey = (await OutboxNode.MustAsync(cli, "apikey", "create", "--scope", "/", "--role", "admin")).Output.TrimEnd().Split('\n')[^1];

        var backupDirectory = Directory.CreateTempSubdirectory("herald-backup-").FullName;
        var backup = Path.Combine(backupDirectory, "herald-backup.db");
        HashSet<string> acknowledgedBefore;
        CliResult backedUp;
        await using (var server = await HeraldServer.StartAsync(cli.DataDirectory, environment))
        {
            var target = new SubmissionLoad.Target("node", server.BaseAddress);
            await using var load = SubmissionLoad.Start(clients: 3, TimeSpan.FromMilliseconds(20), apiKey, _ => target);
            await load.WaitUntilAcknowledgedAsync("node", 40);
            acknowledgedBefore = [.. load.Acknowledged.Keys];
            backedUp = await cli.RunAsync("backup", "--to", backup);
            // The stream goes on after the backup: serve's writers were not stopped by it.
            await load.WaitUntilAcknowledgedAsync("node", load.AcknowledgedBy("node") + 20);
            await load.StopAsync();
            Assert.Empty(load.Unexpected);
            output.WriteLine($"{acknowledgedBefore.Count} acknowledged before the backup, {load.Acknowledged.Count} in all");
        }

        output.WriteLine(backedUp.ToString());
        Assert.True(backedUp.ExitCode == 0, backedUp.ToString());
        Assert.Matches(@"Wrote .*herald-backup\.db: [0-9.]+ (KiB|MiB), schema version \d{4}, [0-9,]+ message\(s\) of which [0-9,]+ queued", backedUp.Output);
        Assert.Contains(DatabaseBackup.KeyNotIncluded, backedUp.Output, StringComparison.Ordinal);
        // One file, without the key: no key file beside it, and not the passphrase inside it.
        Assert.Equal(["herald-backup.db"], Directory.GetFileSystemEntries(backupDirectory).Select(Path.GetFileName));
        var bytes = File.ReadAllBytes(backup);
        Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(Passphrase)) < 0, "The backup holds the credential key's passphrase.");
        Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(postfix.SaslPassword)) < 0, "The backup holds the SMTP password in clear.");

        // The old node's directory is not empty: restore names it and changes nothing there.
        var refused = await cli.RunAsync("restore", "--from", backup);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"The data directory {cli.DataDirectory} is not empty", refused.Error, StringComparison.Ordinal);
        Assert.Contains(DatabaseBackup.KeyNotIncluded, refused.Error, StringComparison.Ordinal);

        using var restoredCli = new HeraldCommandLine(Path.Combine(Path.GetTempPath(), $"herald-restored-{Guid.NewGuid():N}"));
        Directory.Delete(restoredCli.DataDirectory);
        var restored = await restoredCli.RunAsync("restore", "--from", backup);
        output.WriteLine(restored.ToString());
        Assert.True(restored.ExitCode == 0, restored.ToString());
        Assert.Contains(DatabaseBackup.KeyNotIncluded, restored.Output, StringComparison.Ordinal);
        Assert.Equal(["herald.db"], Directory.GetFileSystemEntries(restoredCli.DataDirectory).Select(Path.GetFileName));
        // The restored node gets the key the way the old one had it; it matches the database's.
        var restoredKey = await restoredCli.RunWithInputAsync(Passphrase + "\n", "key", "set");
        Assert.True(restoredKey.ExitCode == 0, restoredKey.ToString());

        // The sealed password opens on the restored node: Postfix relays its test email only for
        // the authenticated account.
        var to = PostfixFixture.NewRecipient("restored");
        var tested = await restoredCli.RunAsync("test-email", "--scope", "/hr", "--to", to);
        Assert.True(tested.ExitCode == 0, tested.ToString());
        await postfix.WaitForMessageAsync(to);

        sink.Restart();
        await using var node = await HeraldServer.StartAsync(restoredCli.DataDirectory, environment);
        using var http = node.Client(apiKey);
        var messageIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in acknowledgedBefore)
        {
            var sent = await OutboxNode.WaitForAsync(http, id, state => state == "sent", TimeSpan.FromSeconds(120));
            messageIds.Add(sent.GetProperty("messageIdHeader").GetString()!.Trim('<', '>'));
        }

        var received = await sink.WaitForAsync(acknowledgedBefore.Count, TimeSpan.FromSeconds(30));
        var receivedIds = received.Select(m => m.ToMimeMessage().MessageId).OfType<string>().ToHashSet(StringComparer.Ordinal);
        Assert.Subset(receivedIds, messageIds);
    }
}
