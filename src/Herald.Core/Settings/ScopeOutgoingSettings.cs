using Herald.Scopes;

namespace Herald.Settings;

/// <summary>Whether a notification may carry a user's address in From (SharePoint's
/// OutboundMailOverrideEnvelopeSender). The envelope sender is always the configured address.</summary>
public enum ImpersonationPolicy
{
    ConfiguredSenderOnly,
    AllowUserFrom,
}

public static class ImpersonationPolicyNames
{
    public static readonly NamedValues<ImpersonationPolicy> Values = new(
        (ImpersonationPolicy.ConfiguredSenderOnly, "never"),
        (ImpersonationPolicy.AllowUserFrom, "allowed"));
}

/// <summary>What one scope itself sets; a null field is inherited from the parent scope.</summary>
public sealed record ScopeOutgoingSettings(ScopePath Scope)
{
    public bool? Enabled { get; init; }

    /// <summary>The <see cref="SmtpConnection.Id"/> of the connection the scope uses.</summary>
    public string? ConnectionId { get; init; }

    public EmailAddress? FromAddress { get; init; }

    public string? FromName { get; init; }

    public EmailAddress? ReplyTo { get; init; }

    public string? Charset { get; init; }

    public ImpersonationPolicy? Impersonation { get; init; }

    public bool IsEmpty => this == new ScopeOutgoingSettings(Scope);
}

/// <summary>A value and the scope it was set at (null: the product's default).</summary>
public sealed record Setting<T>(T Value, ScopePath? DefinedAt)
{
    public bool IsInherited(ScopePath scope) => DefinedAt is { } at && at != scope;
}

/// <summary>The settings in force for a scope, each found by walking from the scope towards <c>/</c>.</summary>
public sealed record EffectiveOutgoingSettings(
    ScopePath Scope,
    Setting<bool> Enabled,
    Setting<string?> ConnectionId,
    Setting<EmailAddress?> FromAddress,
    Setting<string?> FromName,
    Setting<EmailAddress?> ReplyTo,
    Setting<string> Charset,
    Setting<ImpersonationPolicy> Impersonation)
{
    /// <param name="chain">The scope's own settings and its ancestors', nearest first; scopes
    /// that set nothing may be missing.</param>
    public static EffectiveOutgoingSettings Resolve(ScopePath scope, IReadOnlyList<ScopeOutgoingSettings> chain)
    {
        var charset = PickReference(chain, s => s.Charset);
        return new EffectiveOutgoingSettings(
            scope,
            PickValue(chain, s => s.Enabled, true),
            PickReference(chain, s => s.ConnectionId),
            PickReference(chain, s => s.FromAddress),
            PickReference(chain, s => s.FromName),
            PickReference(chain, s => s.ReplyTo),
            new Setting<string>(charset.Value ?? Charsets.Default, charset.DefinedAt),
            PickValue(chain, s => s.Impersonation, ImpersonationPolicy.ConfiguredSenderOnly));
    }

    private static Setting<T> PickValue<T>(IReadOnlyList<ScopeOutgoingSettings> chain, Func<ScopeOutgoingSettings, T?> field, T fallback)
        where T : struct
    {
        foreach (var settings in chain)
        {
            if (field(settings) is { } value)
            {
                return new Setting<T>(value, settings.Scope);
            }
        }

        return new Setting<T>(fallback, null);
    }

    private static Setting<T?> PickReference<T>(IReadOnlyList<ScopeOutgoingSettings> chain, Func<ScopeOutgoingSettings, T?> field)
        where T : class
    {
        foreach (var settings in chain)
        {
            if (field(settings) is { } value)
            {
                return new Setting<T?>(value, settings.Scope);
            }
        }

        return new Setting<T?>(null, null);
    }
}
