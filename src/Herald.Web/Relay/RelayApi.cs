using Herald.Access;
using Herald.Relay;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Relay;

/// <summary><c>/api/v1/relay/listeners</c> and <c>/api/v1/relay/accounts</c>: the relay's access
/// policy and its accounts, for administrator keys of the scopes concerned. A listener is named by
/// its endpoint in the path (<c>127.0.0.1:2525</c>, <c>[::1]:2525</c> URL-encoded).</summary>
public static class RelayApi
{
    public static RouteGroupBuilder MapRelayApi(this RouteGroupBuilder api)
    {
        var relay = api.MapGroup("/relay").WithTags("Relay");
        relay.MapGet("/listeners", ListListenersAsync).WithSummary("Relay listeners of the scopes this key administers (the implied default while none is stored).");
        relay.MapPut("/listeners/{listen}", PutListenerAsync).WithSummary("Add or change a relay listener; fields left out keep their values, a list replaces the stored one.");
        relay.MapDelete("/listeners/{listen}", DeleteListenerAsync).WithSummary("Remove a relay listener.");
        relay.MapGet("/accounts", ListAccountsAsync).WithSummary("Relay accounts of the scopes this key administers; never a password.");
        relay.MapPut("/accounts/{user}", PutAccountAsync).WithSummary("Add a relay account or set its password and scope; the password is write-only.");
        relay.MapDelete("/accounts/{user}", DeleteAccountAsync).WithSummary("Remove a relay account.");
        return api;
    }

    public sealed record ListenerRequest(
        string? Scope, string? Access, IReadOnlyList<string>? Entries, string? Auth,
        IReadOnlyList<string>? SenderDomains, IReadOnlyList<string>? RecipientDomains, bool? AuthWithoutTls);

    public sealed record ListenerView(
        string Listen, string Scope, string Access, IReadOnlyList<string> Entries, string Auth,
        IReadOnlyList<string> SenderDomains, IReadOnlyList<string> RecipientDomains, bool AuthWithoutTls, bool Stored)
    {
        public static ListenerView From(RelayListenerSettings l, bool stored) => new(
            l.Listen, l.Scope.Value, RelayAccessModeNames.Values.NameOf(l.Access), l.Entries, RelayAuthModeNames.Values.NameOf(l.Auth),
            l.SenderDomains, l.RecipientDomains, l.AuthWithoutTls, stored);
    }

    public sealed record AccountRequest(string? Scope, string? Password)
    {
        public override string ToString() => $"AccountRequest for {Scope}, password {(Password is null ? "missing" : "given")}";
    }

    public sealed record AccountView(string User, string Scope, DateTimeOffset CreatedAt);

    private static async Task<Ok<ListenerView[]>> ListListenersAsync(HttpContext context, IRelayStore store)
    {
        var key = context.ApiKey();
        var stored = await store.ListListenersAsync(context.RequestAborted).ConfigureAwait(false);
        var views = stored.Count == 0
            ? [ListenerView.From(RelaySettingsService.DefaultListener, stored: false)]
            : stored.Select(l => ListenerView.From(l, stored: true));
        return TypedResults.Ok(views.Where(v => key.Allows(ScopePath.Parse(v.Scope), ApiKeyRole.Admin)).ToArray());
    }

    private static async Task<Results<Ok<ListenerView>, ValidationProblem, ProblemHttpResult>> PutListenerAsync(
        HttpContext context, string listen, ListenerRequest request, RelaySettingsService service)
    {
        if (!RelayAddresses.TryParseEndpoint(listen, out _, out var listenError))
        {
            return Invalid([new("listen", listenError)]);
        }

        // The key must administer the listener's scope before and after: a listener of /hr cannot
        // be taken over by an administrator of /finance, nor moved to a scope the key does not hold.
        var existing = await service.FindStoredListenerAsync(listen, context.RequestAborted).ConfigureAwait(false);
        if (existing is not null && context.Refuse(existing.Scope, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        var target = request.Scope ?? existing?.Scope.Value ?? "/";
        if (!ScopePath.TryParse(target, out var scope, out var scopeError))
        {
            return Invalid([new("scope", scopeError)]);
        }

        if (context.Refuse(scope, ApiKeyRole.Admin) is { } scopeRefusal)
        {
            return scopeRefusal;
        }

        var (saved, errors) = await service.SetListenerAsync(new RelayListenerUpdate(listen)
        {
            Scope = request.Scope,
            Access = request.Access,
            Entries = request.Entries,
            Auth = request.Auth,
            SenderDomains = request.SenderDomains,
            RecipientDomains = request.RecipientDomains,
            AuthWithoutTls = request.AuthWithoutTls,
        }, context.RequestAborted).ConfigureAwait(false);
        return saved is null ? Invalid(errors) : TypedResults.Ok(ListenerView.From(saved, stored: true));
    }

    private static async Task<Results<NoContent, NotFound<ProblemDetails>, ProblemHttpResult>> DeleteListenerAsync(
        HttpContext context, string listen, RelaySettingsService service)
    {
        if (await service.FindStoredListenerAsync(listen, context.RequestAborted).ConfigureAwait(false) is not { } listener)
        {
            return NotFound($"No relay listener '{listen}' is stored.");
        }

        if (context.Refuse(listener.Scope, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        await service.RemoveListenerAsync(listener, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<AccountView[]>> ListAccountsAsync(HttpContext context, IRelayStore store)
    {
        var key = context.ApiKey();
        var accounts = await store.ListAccountsAsync(context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(accounts.Where(a => key.Allows(a.Scope, ApiKeyRole.Admin)).Select(a => new AccountView(a.UserName, a.Scope.Value, a.CreatedAt)).ToArray());
    }

    private static async Task<Results<Ok<AccountView>, ValidationProblem, ProblemHttpResult>> PutAccountAsync(
        HttpContext context, string user, AccountRequest request, RelaySettingsService service, IRelayStore store)
    {
        if (!ScopePath.TryParse(request.Scope, out var scope, out var scopeError))
        {
            return Invalid([new("scope", scopeError)]);
        }

        var existing = await store.FindAccountAsync(user, context.RequestAborted).ConfigureAwait(false);
        if (((existing is not null ? context.Refuse(existing.Scope, ApiKeyRole.Admin) : null) ?? context.Refuse(scope, ApiKeyRole.Admin)) is { } refusal)
        {
            return refusal;
        }

        var (_, errors) = await service.SetAccountAsync(request.Scope, user, request.Password, context.RequestAborted).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var saved = await store.FindAccountAsync(user, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new AccountView(saved!.UserName, saved.Scope.Value, saved.CreatedAt));
    }

    private static async Task<Results<NoContent, NotFound<ProblemDetails>, ProblemHttpResult>> DeleteAccountAsync(
        HttpContext context, string user, RelaySettingsService service, IRelayStore store)
    {
        if (await store.FindAccountAsync(user, context.RequestAborted).ConfigureAwait(false) is not { } account)
        {
            return NotFound($"No relay account '{user}'.");
        }

        if (context.Refuse(account.Scope, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        await service.RemoveAccountAsync(account.UserName, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static ValidationProblem Invalid(IReadOnlyList<FieldError> errors) =>
        ApiResults.Invalid(errors, "The relay settings are not valid; nothing was saved.");

    private static NotFound<ProblemDetails> NotFound(string detail) => ApiResults.NotFound(detail);
}
