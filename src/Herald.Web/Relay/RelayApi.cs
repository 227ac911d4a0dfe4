using Herald.Relay;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Relay;

/// <summary><c>/api/v1/relay/listeners</c> and <c>/api/v1/relay/accounts</c>: the relay's access
/// policy and its accounts. A listener is named by its endpoint in the path (<c>127.0.0.1:2525</c>,
/// <c>[::1]:2525</c> URL-encoded). Who may do what is <see cref="RelaySettingsService"/>'s to decide.</summary>
public static class RelayApi
{
    public static RouteGroupBuilder MapRelayApi(this RouteGroupBuilder api)
    {
        var relay = api.MapGroup("/relay").WithTags("Relay");
        relay.MapGet("/listeners", ListListenersAsync).WithName("listRelayListeners").WithSummary("List relay listeners")
            .WithDescription("Relay listeners in force in the scopes this key administers (the implied default included, with stored false).");
        relay.MapGet("/listeners/{listen}", GetListenerAsync).WithName("getRelayListener").WithSummary("Get a relay listener")
            .WithDescription("One relay listener.");
        relay.MapPut("/listeners/{listen}", PutListenerAsync).WithName("putRelayListener").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Add or change a relay listener")
            .WithDescription("Add a relay listener (administrators of /) or change one; fields left out keep their values, a list replaces the stored one.");
        relay.MapDelete("/listeners/{listen}", DeleteListenerAsync).WithName("deleteRelayListener").WithSummary("Remove a relay listener")
            .WithDescription("Remove a relay listener, the implied default included (administrators of /).");
        relay.MapGet("/accounts", ListAccountsAsync).WithName("listRelayAccounts").WithSummary("List relay accounts")
            .WithDescription("Relay accounts of the scopes this key administers; never a password.");
        relay.MapPut("/accounts/{user}", PutAccountAsync).WithName("putRelayAccount").WithSummary("Add or change a relay account")
            .WithDescription("Add a relay account or set its password and scope; the password is write-only.");
        relay.MapDelete("/accounts/{user}", DeleteAccountAsync).WithName("deleteRelayAccount").WithSummary("Remove a relay account")
            .WithDescription("Remove a relay account.");
        return api;
    }

    public sealed record ListenerRequest(
        string? Scope, string? Access, IReadOnlyList<string>? Entries, string? Auth,
        IReadOnlyList<string>? SenderDomains, IReadOnlyList<string>? RecipientDomains, bool? AuthWithoutTls);

    public sealed record ListenerView(
        string Listen, string Scope, string Access, IReadOnlyList<string> Entries, string Auth,
        IReadOnlyList<string> SenderDomains, IReadOnlyList<string> RecipientDomains, bool AuthWithoutTls, bool Stored)
    {
        public static ListenerView From(RelayListenerView view)
        {
            var l = view.Listener;
            return new(
                l.Listen, l.Scope.Value, RelayAccessModeNames.Values.NameOf(l.Access), l.Entries, RelayAuthModeNames.Values.NameOf(l.Auth),
                l.SenderDomains, l.RecipientDomains, l.AuthWithoutTls, view.Stored);
        }
    }

    public sealed record AccountRequest(string? Scope, string? Password)
    {
        public override string ToString() => $"AccountRequest for {Scope}, password {(Password is null ? "missing" : "given")}";
    }

    public sealed record AccountView(string User, string Scope, DateTimeOffset CreatedAt)
    {
        public static AccountView From(RelayAccount account) => new(account.UserName.Value, account.Scope.Value, account.CreatedAt);
    }

    private static async Task<Results<Ok<ListenerView[]>, ProblemHttpResult>> ListListenersAsync(HttpContext context, RelaySettingsService service)
    {
        var result = await service.ListListenersAsync(context.Caller(), context.RequestAborted).ConfigureAwait(false);
        return result.Refused ? ApiResults.Refused(result.Refusal!) : TypedResults.Ok(result.Value!.Select(ListenerView.From).ToArray());
    }

    private static async Task<Results<Ok<ListenerView>, ProblemHttpResult>> GetListenerAsync(HttpContext context, string listen, RelaySettingsService service)
    {
        var result = await service.GetListenerAsync(context.Caller(), listen, context.RequestAborted).ConfigureAwait(false);
        return result.Refused ? ApiResults.Refused(result.Refusal!) : TypedResults.Ok(ListenerView.From(result.Value!));
    }

    private static async Task<Results<Ok<ListenerView>, ProblemHttpResult>> PutListenerAsync(
        HttpContext context, string listen, ListenerRequest request, RelaySettingsService service)
    {
        var result = await service.SaveListenerAsync(context.Caller(), new RelayListenerUpdate(listen)
        {
            Scope = request.Scope,
            Access = request.Access,
            Entries = request.Entries,
            Auth = request.Auth,
            SenderDomains = request.SenderDomains,
            RecipientDomains = request.RecipientDomains,
            AuthWithoutTls = request.AuthWithoutTls,
        }, isNew: null, context.RequestAborted).ConfigureAwait(false);
        return result.Refused ? ApiResults.Refused(result.Refusal!) : TypedResults.Ok(ListenerView.From(result.Value!));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteListenerAsync(HttpContext context, string listen, RelaySettingsService service)
    {
        var result = await service.RemoveListenerAsync(context.Caller(), listen, context.RequestAborted).ConfigureAwait(false);
        return result.Refused ? ApiResults.Refused(result.Refusal!) : TypedResults.NoContent();
    }

    private static async Task<Results<Ok<AccountView[]>, ProblemHttpResult>> ListAccountsAsync(HttpContext context, RelaySettingsService service)
    {
        var result = await service.ListAccountsAsync(context.Caller(), context.RequestAborted).ConfigureAwait(false);
        return result.Refused ? ApiResults.Refused(result.Refusal!) : TypedResults.Ok(result.Value!.Select(AccountView.From).ToArray());
    }

    private static async Task<Results<Ok<AccountView>, ProblemHttpResult>> PutAccountAsync(
        HttpContext context, string user, AccountRequest request, RelaySettingsService service)
    {
        var result = await service.SaveAccountAsync(context.Caller(), request.Scope, user, request.Password, context.RequestAborted).ConfigureAwait(false);
        return result.Refused ? ApiResults.Refused(result.Refusal!) : TypedResults.Ok(AccountView.From(result.Value!.Account));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAccountAsync(HttpContext context, string user, RelaySettingsService service)
    {
        var result = await service.RemoveAccountAsync(context.Caller(), user, context.RequestAborted).ConfigureAwait(false);
        return result.Refused ? ApiResults.Refused(result.Refusal!) : TypedResults.NoContent();
    }
}
