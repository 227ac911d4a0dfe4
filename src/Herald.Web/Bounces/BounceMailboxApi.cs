using Herald.Bounces;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Bounces;

/// <summary><c>/api/v1/bounce-mailbox?scope=</c>: a scope's bounce mailbox, shaped like the
/// scope's outgoing settings. The handlers translate JSON to <see cref="BounceMailboxService"/>'s
/// use cases and back; who may, what is valid and that secrets are shown only as set are its rules.</summary>
public static class BounceMailboxApi
{
    public static RouteGroupBuilder MapBounceMailboxApi(this RouteGroupBuilder api)
    {
        var mailbox = api.MapGroup("/bounce-mailbox").WithTags("Bounces");
        mailbox.MapGet("/", GetAsync).WithName("getBounceMailbox").WithSummary("Get a scope's bounce mailbox")
            .WithDescription("The mailbox DSNs and complaints for ?scope= (default /) arrive in, and what its last read found; its user name and password only as set or not (administrators).");
        mailbox.MapPut("/", PutAsync).WithName("putBounceMailbox").WithSummary("Add or change a scope's bounce mailbox")
            .WithDescription("Fields left out keep their values; a new mailbox needs protocol, host, domain, userName and password. The secrets are sealed and never returned; changing host or port, or lowering security, drops them unless new ones come along (administrators).");
        mailbox.MapDelete("/", DeleteAsync).WithName("deleteBounceMailbox").WithSummary("Remove a scope's bounce mailbox")
            .WithDescription("Remove the scope's own bounce mailbox and its secrets; its messages are sent with the configured envelope sender again (administrators).");
        mailbox.MapPost("/read", ReadAsync).WithName("readBounceMailbox").ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Read a scope's bounce mailbox now")
            .WithDescription("Read the mailbox once, now (herald serve reads it continuously), and say what it found or why the server could not be read (read: false, problem); 409 when another node is reading it (administrators).");
        return api;
    }

    /// <summary>A bounce mailbox's fields; null keeps the stored value. Secrets are write-only.</summary>
    /// <param name="Protocol">imap or pop3.</param>
    /// <param name="Security">implicit-tls (default), starttls or none (the password in the clear: a server on the same host only).</param>
    /// <param name="Domain">The bounce domain: the scope's messages are sent with MAIL FROM bounces+TOKEN@domain, and mail to it must reach this mailbox.</param>
    /// <param name="Folder">IMAP: the folder read (default INBOX).</param>
    /// <param name="TrustCa">PEM of the CA that must issue the server's certificate, or <c>system</c>.</param>
    /// <param name="TrustThumbprint">SHA-256 thumbprint of the one server certificate to accept.</param>
    public sealed record BounceMailboxRequest(
        string? Protocol, string? Host, int? Port, string? Security, string? Domain, string? Folder,
        string? UserName, string? Password, string? TrustCa, string? TrustThumbprint)
    {
        // The user name and password never appear in a log line or exception message.
        public override string ToString() =>
            $"{nameof(BounceMailboxRequest)} for {Host}, user name {(UserName is null ? "unchanged" : "given")}, password {(Password is null ? "unchanged" : "given")}";
    }

    /// <summary>A bounce mailbox as shown: <c>userName</c> and <c>password</c> are "set" or "not set".</summary>
    public sealed record BounceMailboxResponse(
        string Scope, string Protocol, string Host, int Port, string Security, string Trust, string Domain, string Folder,
        string UserName, string Password, string? LastOutcome, DateTimeOffset? LastReadAt)
    {
        public static BounceMailboxResponse From(BounceMailboxView v) => new(
            v.Scope.Value, v.Protocol, v.Host, v.Port, v.Security, v.Trust, v.Domain, v.Folder,
            v.UserNameSet ? "set" : "not set", v.PasswordSet ? "set" : "not set", v.LastOutcome, v.LastReadAt);
    }

    /// <summary>What one read found: whether the mailbox could be read, a sentence, and the count
    /// of messages per outcome (bounced, complained, unmatched…); <c>problem</c> says why it could not.</summary>
    public sealed record BounceReadResponse(string Scope, bool Read, string Summary, IReadOnlyDictionary<string, int> Outcomes, string? Problem)
    {
        public static BounceReadResponse From(BounceReadNow r) => new(
            r.Scope.Value, r.Report is not null, r.Summary,
            r.Report?.Outcomes.ToDictionary(o => BounceOutcomeNames.Values.NameOf(o.Key), o => o.Value, StringComparer.Ordinal) ?? [],
            r.Problem);
    }

    private static async Task<Results<Ok<BounceMailboxResponse>, ProblemHttpResult>> GetAsync(HttpContext context, string? scope, BounceMailboxService service)
    {
        var shown = await service.ShowAsync(context.Caller(), scope ?? "/", context.RequestAborted).ConfigureAwait(false);
        return shown.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(BounceMailboxResponse.From(shown.Value!));
    }

    private static async Task<Results<Ok<BounceMailboxResponse>, Created<BounceMailboxResponse>, ProblemHttpResult>> PutAsync(
        HttpContext context, string? scope, BounceMailboxRequest request, BounceMailboxService service)
    {
        var system = string.Equals(request.TrustCa?.Trim(), "system", StringComparison.OrdinalIgnoreCase);
        var update = new BounceMailboxUpdate(
            scope ?? "/", request.Protocol, request.Host, request.Port, request.Security, request.Domain, request.Folder,
            request.UserName, request.Password, system ? null : request.TrustCa, request.TrustThumbprint, system);
        var saved = await service.SetAsync(context.Caller(), update, context.RequestAborted).ConfigureAwait(false);
        if (saved.Refusal is { } refusal)
        {
            return ApiResults.Refused(refusal);
        }

        var view = BounceMailboxResponse.From(saved.Value!.Value);
        return saved.Value.Created ? TypedResults.Created($"/api/v1/bounce-mailbox?scope={Uri.EscapeDataString(view.Scope)}", view) : TypedResults.Ok(view);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(HttpContext context, string? scope, BounceMailboxService service)
    {
        var refusal = await service.RemoveAsync(context.Caller(), scope ?? "/", context.RequestAborted).ConfigureAwait(false);
        return refusal is null ? TypedResults.NoContent() : ApiResults.Refused(refusal);
    }

    private static async Task<Results<Ok<BounceReadResponse>, ProblemHttpResult>> ReadAsync(HttpContext context, string? scope, BounceMailboxService service)
    {
        var read = await service.ReadNowAsync(context.Caller(), scope ?? "/", context.RequestAborted).ConfigureAwait(false);
        return read.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(BounceReadResponse.From(read.Value!));
    }
}
