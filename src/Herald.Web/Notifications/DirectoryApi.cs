using System.Text;
using Herald.Access;
using Herald.Notifications;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>/api/v1/users</c>, <c>/api/v1/groups</c> and <c>/api/v1/directory/import</c>. The
/// directory is global (one user may have access in many scopes), so changing it takes an
/// administrator key of <c>/</c>; any administrator key may read it, to pick recipients and principals.</summary>
public static class DirectoryApi
{
    /// <summary>Largest import body: 100,000 users in CSV are about 10 MB.</summary>
    public const long MaxImportBytes = 64L * 1024 * 1024;

    public static RouteGroupBuilder MapDirectoryApi(this RouteGroupBuilder api)
    {
        var users = api.MapGroup("/users").WithTags("Directory");
        users.MapGet("", ListUsersAsync).WithSummary("Every user of the directory, by id.");
        users.MapGet("/{id}", GetUserAsync).WithSummary("One user.");
        users.MapPut("/{id}", PutUserAsync).WithSummary("Add a user or change one; fields left out keep their values (a new user needs name and email; time zone defaults to UTC, language to en).");
        users.MapDelete("/{id}", DeleteUserAsync).WithSummary("Remove a user with their group memberships and access entries.");

        var groups = api.MapGroup("/groups").WithTags("Directory");
        groups.MapGet("", ListGroupsAsync).WithSummary("Every group with its direct members.");
        groups.MapGet("/{id}", GetGroupAsync).WithSummary("One group with its direct members.");
        groups.MapGet("/{id}/members", GetMembersAsync).WithSummary("A group's direct members, or with expand=true every user reached through nested groups, each once.");
        groups.MapPut("/{id}", PutGroupAsync).WithSummary("Add a group or change one; members (user:<id>, group:<id>) replace the stored list and must exist; a cycle is refused.");
        groups.MapDelete("/{id}", DeleteGroupAsync).WithSummary("Remove a group, its place in other groups and its access entries.");

        api.MapPost("/directory/import", ImportAsync).WithTags("Directory")
            .WithSummary("Add or replace users and groups from JSON (application/json) or CSV (text/csv) in one transaction: all or nothing, errors named by item or line.");
        return api;
    }

    public sealed record UserRequest(string? Name, string? Email, string? TimeZone, string? Language);

    public sealed record UserView(string Id, string Name, string Email, string TimeZone, string Language)
    {
        public static UserView From(DirectoryUser u) => new(u.Id, u.Name, u.Email.Value, u.TimeZone, u.Language);
    }

    public sealed record GroupRequest(string? Name, string? Alias, string? Delivery, IReadOnlyList<string>? Members);

    public sealed record GroupView(string Id, string Name, string? Alias, string Delivery, IReadOnlyList<string> Members)
    {
        public static GroupView From(DirectoryGroup g) =>
            new(g.Id, g.Name, g.Alias?.Value, GroupDeliveryNames.Values.NameOf(g.Delivery), g.Members.Select(m => m.ToString()).ToArray());
    }

    public sealed record MembersView(string Group, bool Expanded, IReadOnlyList<string>? Members, IReadOnlyList<UserView>? Users);

    public sealed record ImportResult(int UsersAdded, int UsersChanged, int GroupsAdded, int GroupsChanged);

    private static async Task<Results<Ok<UserView[]>, ProblemHttpResult>> ListUsersAsync(HttpContext context, IDirectoryStore store)
    {
        if (RefuseRead(context) is { } refusal)
        {
            return refusal;
        }

        var users = await store.ListUsersAsync(context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(users.Select(UserView.From).ToArray());
    }

    private static async Task<Results<Ok<UserView>, NotFound<ProblemDetails>, ProblemHttpResult>> GetUserAsync(HttpContext context, string id, IDirectoryStore store)
    {
        if (RefuseRead(context) is { } refusal)
        {
            return refusal;
        }

        return await store.FindUserAsync(id, context.RequestAborted).ConfigureAwait(false) is { } user
            ? TypedResults.Ok(UserView.From(user))
            : NotFound($"No user '{id}'.");
    }

    private static async Task<Results<Ok<UserView>, Created<UserView>, ValidationProblem, ProblemHttpResult>> PutUserAsync(
        HttpContext context, string id, UserRequest request, DirectoryService service)
    {
        if (context.Refuse(ScopePath.Root, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        var (saved, created, errors) = await service.SetUserAsync(
            new UserUpdate(id) { Name = request.Name, Email = request.Email, TimeZone = request.TimeZone, Language = request.Language },
            context.RequestAborted).ConfigureAwait(false);
        if (saved is null)
        {
            return Invalid(errors, "The user is not valid; nothing was saved.");
        }

        return created ? TypedResults.Created($"/api/v1/users/{saved.Id}", UserView.From(saved)) : TypedResults.Ok(UserView.From(saved));
    }

    private static async Task<Results<NoContent, NotFound<ProblemDetails>, ProblemHttpResult>> DeleteUserAsync(HttpContext context, string id, DirectoryService service)
    {
        if (context.Refuse(ScopePath.Root, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        return await service.RemoveUserAsync(id, context.RequestAborted).ConfigureAwait(false) ? TypedResults.NoContent() : NotFound($"No user '{id}'.");
    }

    private static async Task<Results<Ok<GroupView[]>, ProblemHttpResult>> ListGroupsAsync(HttpContext context, IDirectoryStore store)
    {
        if (RefuseRead(context) is { } refusal)
        {
            return refusal;
        }

        var groups = await store.ListGroupsAsync(context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(groups.Select(GroupView.From).ToArray());
    }

    private static async Task<Results<Ok<GroupView>, NotFound<ProblemDetails>, ProblemHttpResult>> GetGroupAsync(HttpContext context, string id, IDirectoryStore store)
    {
        if (RefuseRead(context) is { } refusal)
        {
            return refusal;
        }

        return await store.FindGroupAsync(id, context.RequestAborted).ConfigureAwait(false) is { } group
            ? TypedResults.Ok(GroupView.From(group))
            : NotFound($"No group '{id}'.");
    }

    private static async Task<Results<Ok<MembersView>, NotFound<ProblemDetails>, ProblemHttpResult>> GetMembersAsync(
        HttpContext context, string id, bool? expand, IDirectoryStore store, DirectoryCache directory)
    {
        if (RefuseRead(context) is { } refusal)
        {
            return refusal;
        }

        if (expand == true)
        {
            // The node's view: current at once after a change made here, within seconds after one elsewhere.
            var view = await directory.GetViewAsync(context.RequestAborted).ConfigureAwait(false);
            return view.FindGroup(id) is null
                ? NotFound($"No group '{id}'.")
                : TypedResults.Ok(new MembersView(id, true, null, view.MembersOf(id).Select(UserView.From).ToArray()));
        }

        return await store.FindGroupAsync(id, context.RequestAborted).ConfigureAwait(false) is { } group
            ? TypedResults.Ok(new MembersView(id, false, group.Members.Select(m => m.ToString()).ToArray(), null))
            : NotFound($"No group '{id}'.");
    }

    private static async Task<Results<Ok<GroupView>, Created<GroupView>, ValidationProblem, ProblemHttpResult>> PutGroupAsync(
        HttpContext context, string id, GroupRequest request, DirectoryService service)
    {
        if (context.Refuse(ScopePath.Root, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        var (saved, created, errors) = await service.SetGroupAsync(
            new GroupUpdate(id) { Name = request.Name, Alias = request.Alias, Delivery = request.Delivery, Members = request.Members },
            context.RequestAborted).ConfigureAwait(false);
        if (saved is null)
        {
            return Invalid(errors, "The group is not valid; nothing was saved.");
        }

        return created ? TypedResults.Created($"/api/v1/groups/{saved.Id}", GroupView.From(saved)) : TypedResults.Ok(GroupView.From(saved));
    }

    private static async Task<Results<NoContent, NotFound<ProblemDetails>, ProblemHttpResult>> DeleteGroupAsync(HttpContext context, string id, DirectoryService service)
    {
        if (context.Refuse(ScopePath.Root, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        return await service.RemoveGroupAsync(id, context.RequestAborted).ConfigureAwait(false) ? TypedResults.NoContent() : NotFound($"No group '{id}'.");
    }

    private static async Task<Results<Ok<ImportResult>, ValidationProblem, ProblemHttpResult>> ImportAsync(HttpContext context, DirectoryService service)
    {
        if (context.Refuse(ScopePath.Root, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        var mediaType = context.Request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType is not ("application/json" or "text/csv"))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type",
                detail: "Send the import as application/json or text/csv.");
        }

        if (await ReadBodyAsync(context).ConfigureAwait(false) is not { } text)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Import too large",
                detail: $"An import is at most {MaxImportBytes / (1024 * 1024)} MiB; split it into several imports.");
        }

        var import = mediaType == "text/csv" ? DirectoryImport.FromCsv(text) : DirectoryImport.FromJson(text);
        var report = await service.ImportAsync(import, context.RequestAborted).ConfigureAwait(false);
        return report.Errors.Count > 0
            ? Invalid(report.Errors, "The import has errors; nothing was saved.")
            : TypedResults.Ok(new ImportResult(report.UsersAdded, report.UsersChanged, report.GroupsAdded, report.GroupsChanged));
    }

    /// <summary>The body as UTF-8 text, or null when it is larger than <see cref="MaxImportBytes"/>.</summary>
    private static async Task<string?> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxImportBytes)
        {
            return null;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // Kestrel's default (30 MB) would cut a large import short; this endpoint counts for itself.
            limit.MaxRequestBodySize = MaxImportBytes + 1;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxImportBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>The directory is read by any administrator key: a scope's administrator picks
    /// users and groups from it for access lists, rules and subscriptions.</summary>
    private static ProblemHttpResult? RefuseRead(HttpContext context) =>
        context.ApiKey() is { Role: ApiKeyRole.Admin, RevokedAt: null }
            ? null
            : TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "Reading the directory takes an administrator API key.");
}
