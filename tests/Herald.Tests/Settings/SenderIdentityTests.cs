using Herald.Scopes;
using Herald.Settings;

namespace Herald.Tests.Settings;

/// <summary>The one impersonation rule, as every way in (API, notifications, relay) applies it.</summary>
public sealed class SenderIdentityTests
{
    private static readonly RequestedIdentity Ceo = new(EmailAddress.Parse("ceo@example.com"), "The CEO", EmailAddress.Parse("attacker@example.net"));

    private static EffectiveOutgoingSettings Settings(ImpersonationPolicy? policy, string? replyTo = "help@example.org") =>
        EffectiveOutgoingSettings.Resolve(ScopePath.Parse("/hr"), [new ScopeOutgoingSettings(ScopePath.Parse("/hr"))
        {
            FromAddress = EmailAddress.Parse("hr@example.org"),
            FromName = "HR",
            ReplyTo = replyTo is null ? null : EmailAddress.Parse(replyTo),
            Impersonation = policy,
        }]);

    [Fact]
    public void Never_is_the_default_and_every_message_leaves_with_the_scopes_From_name_and_Reply_To_whatever_was_asked()
    {
        var identity = SenderIdentity.Decide(Settings(null), Ceo);

        Assert.Equal(new SenderIdentity(EmailAddress.Parse("hr@example.org"), "HR", null, null, EmailAddress.Parse("help@example.org"), EmailAddress.Parse("hr@example.org")), identity);
    }

    [Fact]
    public void Allowed_puts_the_author_in_From_and_the_scope_in_Sender_and_the_envelope()
    {
        var identity = SenderIdentity.Decide(Settings(ImpersonationPolicy.AllowUserFrom), Ceo);

        Assert.Equal(new SenderIdentity(
            EmailAddress.Parse("ceo@example.com"), "The CEO", EmailAddress.Parse("hr@example.org"), "HR", EmailAddress.Parse("attacker@example.net"), EmailAddress.Parse("hr@example.org")), identity);
    }

    [Fact]
    public void Allowed_without_an_author_is_the_scopes_own_identity_and_a_name_alone_names_the_scopes_address()
    {
        var settings = Settings(ImpersonationPolicy.AllowUserFrom, replyTo: null);

        var plain = SenderIdentity.Decide(settings, RequestedIdentity.None);
        var named = SenderIdentity.Decide(settings, new RequestedIdentity(null, "Payroll robot", null));

        Assert.Equal((EmailAddress.Parse("hr@example.org"), "HR", (EmailAddress?)null, (EmailAddress?)null), (plain.From, plain.FromName, plain.Sender, plain.ReplyTo));
        Assert.Equal((EmailAddress.Parse("hr@example.org"), "Payroll robot", (EmailAddress?)null), (named.From, named.FromName, named.Sender));
    }

    [Fact]
    public void Under_never_asking_for_a_from_a_name_or_a_reply_to_is_refused_per_field_naming_the_policy_and_where_it_is_set()
    {
        var errors = SenderIdentity.Refuse(Settings(ImpersonationPolicy.ConfiguredSenderOnly), from: true, fromName: true, replyTo: true);

        Assert.Equal(["from", "fromName", "replyTo"], errors.Select(e => e.Field));
        Assert.All(errors, e => Assert.Contains("(impersonation policy 'never', set at /hr)", e.Message, StringComparison.Ordinal));
        Assert.Empty(SenderIdentity.Refuse(Settings(ImpersonationPolicy.ConfiguredSenderOnly), from: false, fromName: false, replyTo: false));
        Assert.Empty(SenderIdentity.Refuse(Settings(ImpersonationPolicy.AllowUserFrom), from: true, fromName: true, replyTo: true));
    }
}
