using Herald.Notifications.Sync;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>/api/v1/directory/sources</c>: the LDAP / Active Directory sources users and groups
/// are synced from, for administrator keys of <c>/</c> (their users are every scope's). The bind
/// password is written, never read: a source shows only whether one is stored.</summary>
public static class DirectorySourcesApi
{
    public static RouteGroupBuilder MapDirectorySourcesApi(this RouteGroupBuilder api)
    {
        var sources = api.MapGroup("/directory/sources").WithTags("Directory");
        sources.MapGet("", ListAsync).WithName("listDirectorySources").WithSummary("List directory sources")
            .WithDescription("Every LDAP / Active Directory source, its settings and last sync (never the bind password), for administrators of /.");
        sources.MapGet("/{name}", GetAsync).WithName("getDirectorySource").WithSummary("Get a directory source")
            .WithDescription("One directory source (never the bind password), for administrators of /.");
        sources.MapPut("/{name}", PutAsync).WithName("putDirectorySource").WithSummary("Add or change a directory source")
            .WithDescription("Add a directory source or change one; fields left out keep their values (a new source takes its schema's defaults). The password is sealed with the credential key and never returned. Plaintext (tls none) only to a loopback server. For administrators of /.");
        sources.MapDelete("/{name}", DeleteAsync).WithName("deleteDirectorySource").WithSummary("Remove a directory source")
            .WithDescription("Remove a directory source and its password; its users and groups stay, as local ones. For administrators of /.");
        return api;
    }

    /// <param name="Password">The bind DN's password: sealed, never returned; left out keeps the stored one.</param>
    public sealed record SourceRequest(
        string? Url, string? Tls, string? Trust, string? BindDn, IReadOnlyList<string>? BaseDns, string? Schema, string? UserFilter, string? GroupFilter,
        string? IdAttribute, string? NameAttribute, string? MailAttribute, string? TimeZoneAttribute, string? LanguageAttribute,
        string? GroupIdAttribute, string? GroupNameAttribute, string? MemberAttribute, string? Nested,
        int? PageSize, int? RemovalLimitPercent, int? GraceDays, int? IntervalMinutes, int? FullSyncHours, string? Password = null);

    /// <param name="PasswordStored">Whether a bind password is stored (it is never shown).</param>
    public sealed record SourceView(
        string Name, string Url, string Tls, string Trust, string BindDn, IReadOnlyList<string> BaseDns, string Schema, string UserFilter, string GroupFilter,
        string IdAttribute, string NameAttribute, string MailAttribute, string? TimeZoneAttribute, string? LanguageAttribute,
        string GroupIdAttribute, string GroupNameAttribute, string MemberAttribute, string Nested,
        int PageSize, int RemovalLimitPercent, int GraceDays, int IntervalMinutes, int FullSyncHours,
        bool PasswordStored, DateTimeOffset? LastSyncAt, DateTimeOffset? LastFullSyncAt, string? LastOutcome)
    {
        public static SourceView From(DirectorySource source)
        {
            var (s, a) = (source.Settings, source.Settings.Attributes);
            return new(
                source.Name, s.Url, DirectorySourceNames.Tls.NameOf(s.Tls), s.CaFile ?? "system", s.BindDn, s.BaseDns, DirectorySourceNames.Schema.NameOf(s.Schema),
                s.UserFilter, s.GroupFilter, a.Id, a.Name, a.Mail, a.TimeZone, a.Language, a.GroupId, a.GroupName, a.Member, DirectorySourceNames.Nested.NameOf(s.Nested),
                s.PageSize, s.RemovalLimitPercent, s.GraceDays, s.IntervalMinutes, s.FullSyncHours,
                source.BindPassword is not null, source.LastSyncAt, source.LastFullSyncAt, source.LastOutcome);
        }
    }

    private static async Task<Results<Ok<SourceView[]>, ProblemHttpResult>> ListAsync(HttpContext context, DirectorySyncService service)
    {
        var listed = await service.ListSourcesAsync(context.Caller(), context.RequestAborted).ConfigureAwait(false);
        return listed.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(listed.Value!.Select(SourceView.From).ToArray());
    }

    private static async Task<Results<Ok<SourceView>, ProblemHttpResult>> GetAsync(HttpContext context, string name, DirectorySyncService service)
    {
        var found = await service.FindSourceAsync(context.Caller(), name, context.RequestAborted).ConfigureAwait(false);
        return found.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(SourceView.From(found.Value!));
    }

    private static async Task<Results<Ok<SourceView>, Created<SourceView>, ProblemHttpResult>> PutAsync(
        HttpContext context, string name, SourceRequest request, DirectorySyncService service)
    {
        var update = new DirectorySourceUpdate(name)
        {
            Url = request.Url, Tls = request.Tls, Trust = request.Trust, BindDn = request.BindDn, BaseDns = request.BaseDns, Schema = request.Schema,
            UserFilter = request.UserFilter, GroupFilter = request.GroupFilter, IdAttribute = request.IdAttribute, NameAttribute = request.NameAttribute,
            MailAttribute = request.MailAttribute, TimeZoneAttribute = request.TimeZoneAttribute, LanguageAttribute = request.LanguageAttribute,
            GroupIdAttribute = request.GroupIdAttribute, GroupNameAttribute = request.GroupNameAttribute, MemberAttribute = request.MemberAttribute,
            Nested = request.Nested, PageSize = request.PageSize, RemovalLimitPercent = request.RemovalLimitPercent, GraceDays = request.GraceDays,
            IntervalMinutes = request.IntervalMinutes, FullSyncHours = request.FullSyncHours,
        };
        var saved = await service.SaveSourceAsync(context.Caller(), update, request.Password, context.RequestAborted).ConfigureAwait(false);
        if (saved.Refusal is { } refusal)
        {
            return Refused(refusal);
        }

        var view = SourceView.From(saved.Value!.Value);
        return saved.Value.Created ? TypedResults.Created($"/api/v1/directory/sources/{view.Name}", view) : TypedResults.Ok(view);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(HttpContext context, string name, DirectorySyncService service) =>
        await service.RemoveSourceAsync(context.Caller(), name, context.RequestAborted).ConfigureAwait(false) is { } refusal ? Refused(refusal) : TypedResults.NoContent();
}
