using Herald.Access;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Settings;

/// <summary><c>/api/v1/settings/outgoing</c>: a scope's outgoing email settings (administrators).</summary>
public static class SettingsApi
{
    public static RouteGroupBuilder MapSettingsApi(this RouteGroupBuilder api)
    {
        var settings = api.MapGroup("/settings").WithTags("Settings");
        settings.MapGet("/outgoing", GetAsync).WithSummary("Effective outgoing email settings of a scope; secrets only as 'set'.");
        settings.MapPut("/outgoing", PutAsync).WithSummary("Change a scope's outgoing email settings; fields left out keep their values.");
        return api;
    }

    /// <summary>The fields of <c>herald smtp set</c>; null keeps the stored value. The password is write-only.</summary>
    public sealed record OutgoingSettingsRequest(
        string? Connection, string? Server, int? Port, string? Security, string? Auth, string? Username, string? Password,
        bool? Enabled, string? From, string? FromName, string? ReplyTo, string? Charset, string? Impersonation,
        int? ConnectionLimit, int? RateLimitPerMinute, IReadOnlyList<string>? NodeTags)
    {
        public override string ToString() => $"OutgoingSettingsRequest for {Server}, password {(Password is null ? "unchanged" : "given")}";
    }

    public sealed record SettingView(object? Value, string? DefinedAt);

    public sealed record ConnectionView(
        string Name, string Host, int Port, string Security, string Authentication, string? Username, bool PasswordSet,
        string? ClientCertificate, string Trust, int ConnectionLimit, int? RateLimitPerMinute, IReadOnlyList<string> NodeTags);

    public sealed record OutgoingSettingsView(string Scope, IReadOnlyDictionary<string, SettingView> Settings, ConnectionView? Connection);

    private static async Task<Results<Ok<OutgoingSettingsView>, ValidationProblem, ProblemHttpResult>> GetAsync(
        HttpContext context, string? scope, OutgoingSettingsService service, ISettingsStore store)
    {
        if (!ScopePath.TryParse(scope ?? "/", out var target, out var error))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["scope"] = [error] });
        }

        if (context.Refuse(target, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        var effective = await service.GetEffectiveAsync(target, context.RequestAborted).ConfigureAwait(false);
        if (effective is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["scope"] = [$"Scope '{target}' does not exist."] });
        }

        return TypedResults.Ok(await ViewAsync(effective, store, context.RequestAborted).ConfigureAwait(false));
    }

    private static async Task<Results<Ok<OutgoingSettingsView>, ValidationProblem, ProblemHttpResult>> PutAsync(
        HttpContext context, string? scope, OutgoingSettingsRequest request, OutgoingSettingsService service, ISettingsStore store)
    {
        if (!ScopePath.TryParse(scope ?? "/", out var target, out var error))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["scope"] = [error] });
        }

        if (context.Refuse(target, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        var authentication = AuthenticationChange.FromWords(request.Auth, request.Username, request.Password, out var authError);
        if (authError is not null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["auth"] = [authError] });
        }

        var errors = await service.ApplyAsync(new OutgoingSettingsUpdate(target)
        {
            ConnectionName = request.Connection,
            Host = request.Server,
            Port = request.Port,
            Security = request.Security,
            Authentication = authentication,
            Enabled = request.Enabled,
            FromAddress = request.From,
            FromName = request.FromName,
            ReplyTo = request.ReplyTo,
            Charset = request.Charset,
            Impersonation = request.Impersonation,
            ConnectionLimit = request.ConnectionLimit,
            RateLimitPerMinute = request.RateLimitPerMinute,
            NodeTags = request.NodeTags,
        }, context.RequestAborted).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                title: "The settings are not valid; nothing was saved.");
        }

        var effective = await service.GetEffectiveAsync(target, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(await ViewAsync(effective!, store, context.RequestAborted).ConfigureAwait(false));
    }

    private static async Task<OutgoingSettingsView> ViewAsync(EffectiveOutgoingSettings effective, ISettingsStore store, CancellationToken cancellationToken)
    {
        static SettingView View<T>(Setting<T> setting, Func<T, object?>? shape = null) =>
            new(shape is null ? setting.Value : shape(setting.Value), setting.DefinedAt?.Value);

        var settings = new Dictionary<string, SettingView>
        {
            ["enabled"] = View(effective.Enabled),
            ["connection"] = View(effective.ConnectionName),
            ["from"] = View(effective.FromAddress, a => a?.Value),
            ["fromName"] = View(effective.FromName),
            ["replyTo"] = View(effective.ReplyTo, a => a?.Value),
            ["charset"] = View(effective.Charset),
            ["impersonation"] = View(effective.Impersonation, ImpersonationPolicyNames.Values.NameOf),
        };

        ConnectionView? connection = null;
        if (effective.ConnectionName.Value is { } name && await store.GetConnectionAsync(name, cancellationToken).ConfigureAwait(false) is { } smtp)
        {
            connection = new ConnectionView(
                smtp.Name, smtp.Host, smtp.Port, SmtpSecurityNames.Values.NameOf(smtp.Security),
                smtp.Authentication.IsAnonymous ? "anonymous" : smtp.Authentication.Mechanisms.Count == 0 ? "any" : string.Join(",", smtp.Authentication.Mechanisms),
                smtp.Authentication.UserName, smtp.Authentication.Password is not null, smtp.ClientCertificate?.Subject,
                ServerTrust.ModeNames.NameOf(smtp.Trust.Mode), smtp.ConnectionLimit, smtp.RateLimitPerMinute, smtp.NodeTags);
        }

        return new OutgoingSettingsView(effective.Scope.Value, settings, connection);
    }
}
