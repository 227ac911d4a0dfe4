using System.Diagnostics;
using System.Text;
using Herald.IntegrationTests.Fixtures;

namespace Herald.IntegrationTests.Relay;

/// <summary>
/// A real <c>herald serve</c> with a relay listener, real clients no one here wrote (swaks), and
/// real Postfix as the upstream (STARTTLS + AUTH): what is checked is the reply a client saw and
/// the bytes that reached the mailbox.
/// </summary>
public sealed class RelayEndToEndTests(PostfixFixture postfix) : IAsyncDisposable
{
    private readonly RelayNode _node = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Swaks_to_the_relay_reaches_the_mailbox_through_an_authenticated_starttls_upstream_with_the_body_unchanged()
    {
        await StartAsync("--allow", "127.0.0.1/32");
        var to = PostfixFixture.NewRecipient("relay");
        // Lines that tempt a relay to change them: a leading dot, trailing blanks, a tab, a long line.
        var body = ".leading dot\r\n..two dots\r\ntrailing blanks   \r\n\tindented\r\n" + new string('x', 900) + "\r\nlast line\r\n";
        var message = $"From: Scanner <scanner@apps.example.com>\r\nTo: <{to}>\r\nSubject: relay end to end\r\nMessage-ID: <e2e-{Guid.NewGuid():N}@apps.example.com>\r\n\r\n{body}";

        // swaks ends the data with CRLF "." CRLF itself, so the file leaves out the last CRLF.
        var (exit, transcript) = await SwaksAsync(to, message[..^2]);

        Assert.True(exit == 0, transcript);
        Assert.Matches(@"<-  250 2\.0\.0 Ok: queued as [0-9a-f]{32}", transcript);
        var delivered = Encoding.UTF8.GetString(await postfix.WaitForMessageAsync(to, TimeSpan.FromSeconds(60))).ReplaceLineEndings("\n");
        Assert.Equal(body.ReplaceLineEndings("\n"), delivered[(delivered.IndexOf("\n\n", StringComparison.Ordinal) + 2)..]);
        Assert.Contains("by ", delivered, StringComparison.Ordinal);
        Assert.Contains("(Herald) with ESMTP id ", delivered, StringComparison.Ordinal);
        // Impersonation 'never' (the default): the scope's From goes out, the client's is kept beside it.
        Assert.Contains("\nX-Original-From: Scanner <scanner@apps.example.com>\nFrom: herald@example.org\n", delivered, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_from_another_loopback_address_than_the_allowed_one_gets_554_5_7_1()
    {
        await StartAsync("--allow", "127.0.0.1/32");

        var (exit, transcript) = await SwaksAsync(PostfixFixture.NewRecipient("refused"), "Subject: x\r\n\r\nx\r\n", "--local-interface", "127.0.0.2");

        Assert.NotEqual(0, exit);
        Assert.Contains("554 5.7.1", transcript, StringComparison.Ordinal);
        Assert.DoesNotContain("250 2.0.0", transcript, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Relay_set_on_a_running_serve_changes_the_policy_without_a_restart()
    {
        await StartAsync("--allow", "127.0.0.1/32");
        var to = PostfixFixture.NewRecipient("policy");
        Assert.Contains("554 5.7.1", (await SwaksAsync(to, "Subject: x\r\n\r\nx\r\n", "--local-interface", "127.0.0.2")).Transcript, StringComparison.Ordinal);

        await _node.MustAsync("relay", "set", "--listen", _node.Listen, "--allow", "127.0.0.0/8");

        var deadline = DateTime.UtcNow.AddSeconds(20);
        (int Exit, string Transcript) last;
        do
        {
            last = await SwaksAsync(to, "Subject: after the change\r\n\r\nx\r\n", "--local-interface", "127.0.0.2");
        }
        while (last.Exit != 0 && DateTime.UtcNow < deadline && await Delay());

        Assert.True(last.Exit == 0, last.Transcript);
        await postfix.WaitForMessageAsync(to, TimeSpan.FromSeconds(60));
        Assert.Equal(1, CountOccurrences(_node.Server.Output, "Relay listener " + _node.Listen + " is accepting mail"));
    }

    public ValueTask DisposeAsync() => _node.DisposeAsync();

    private async Task StartAsync(params string[] relayFlags)
    {
        await _node.UseUpstreamAsync(postfix);
        await _node.MustAsync(["relay", "set", "--listen", _node.Listen, .. relayFlags]);
        await _node.StartServeAsync();
    }

    private async Task<(int Exit, string Transcript)> SwaksAsync(string to, string message, params string[] more)
    {
        var file = Path.Combine(_node.Cli.DataDirectory, $"message-{Guid.NewGuid():N}.eml");
        await File.WriteAllTextAsync(file, message, Ct);
        var start = new ProcessStartInfo("swaks") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--server", _node.Listen, "--from", "scanner@apps.example.com", "--to", to, "--data", file, "--timeout", "30" }.Concat(more))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var error = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        return (process.ExitCode, await output + await error);
    }

    private static async Task<bool> Delay()
    {
        await Task.Delay(500, Ct);
        return true;
    }

    private static int CountOccurrences(string text, string part) =>
        (text.Length - text.Replace(part, "", StringComparison.Ordinal).Length) / part.Length;
}
