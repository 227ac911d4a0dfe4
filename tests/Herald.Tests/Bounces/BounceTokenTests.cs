using Herald.Bounces;
using Herald.Tests.Notifications;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.Bounces;

/// <summary>Bounce addresses (VERP): what they look like and which ones are believed. The SQL key
/// store twin is the integration tests' node (BounceMailboxTests).</summary>
public sealed class BounceTokenTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string MessageId = "0193a1b2c3d4e5f60718293a4b5c6d7e";

    [Fact]
    public async Task A_bounce_address_is_a_short_lower_case_local_part_that_names_message_and_recipient()
    {
        var tokens = new BounceTokens(new UnsubscribeLinkTests.MemoryKeys(), new FakeTimeProvider());

        var sender = await tokens.SenderAsync(MessageId, 7, "bounces.example.org", Ct);

        Assert.NotNull(sender);
        var local = sender[..sender.IndexOf('@', StringComparison.Ordinal)];
        Assert.StartsWith("bounces+", local, StringComparison.Ordinal);
        Assert.True(local.Length <= 64, $"{local.Length} characters: RFC 5321 allows 64 in a local part");
        Assert.Equal(local.ToLowerInvariant(), local);
        Assert.EndsWith("@bounces.example.org", sender, StringComparison.Ordinal);
        Assert.Equal(new BounceTarget(MessageId, 7), await tokens.ReadAsync(sender, Ct));
    }

    [Fact]
    public async Task A_bounce_address_reads_back_upper_cased_and_in_angle_brackets_on_another_node_with_the_same_key()
    {
        var keys = new UnsubscribeLinkTests.MemoryKeys();
        var sender = await new BounceTokens(keys, new FakeTimeProvider()).SenderAsync(MessageId, 0, "example.net", Ct);

        var other = new BounceTokens(keys, new FakeTimeProvider());

        Assert.Equal(new BounceTarget(MessageId, 0), await other.ReadAsync($"<{sender!.ToUpperInvariant()}>", Ct));
    }

    [Fact]
    public async Task A_forged_or_altered_bounce_address_names_nobody()
    {
        var keys = new UnsubscribeLinkTests.MemoryKeys();
        var sender = (await new BounceTokens(keys, new FakeTimeProvider()).SenderAsync(MessageId, 3, "example.net", Ct))!;
        var tokens = new BounceTokens(keys, new FakeTimeProvider());
        var at = sender.IndexOf('@', StringComparison.Ordinal);
        // The recipient's ordinal changed in the token (byte 18 lies in characters 28 to 30).
        var altered = sender[..30] + (sender[30] == 'a' ? 'b' : 'a') + sender[31..];

        Assert.Null(await tokens.ReadAsync(altered, Ct));
        Assert.Null(await new BounceTokens(new UnsubscribeLinkTests.MemoryKeys(), new FakeTimeProvider()).ReadAsync(sender, Ct));
        Assert.Null(await tokens.ReadAsync(sender[..(at - 1)] + sender[at..], Ct));
        Assert.Null(await tokens.ReadAsync("postmaster@example.net", Ct));
        Assert.Null(await tokens.ReadAsync("bounces+" + new string('1', 47) + "@example.net", Ct));
    }

    [Fact]
    public async Task A_message_id_or_ordinal_no_token_can_carry_gets_no_bounce_address()
    {
        var tokens = new BounceTokens(new UnsubscribeLinkTests.MemoryKeys(), new FakeTimeProvider());

        Assert.Null(await tokens.SenderAsync("not-a-hex-id", 0, "example.net", Ct));
        Assert.Null(await tokens.SenderAsync(MessageId, 70_000, "example.net", Ct));
    }
}
