using System.CommandLine;
using Herald.Access;
using Herald.Notifications;
using Herald.Notifications.Sync;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald directory sync</c> and <c>herald directory source set|show|remove</c>.</summary>
internal static partial class DirectoryCommands
{
    private static Command CreateSync(CliConsole console)
    {
        var source = new Option<string?>("--source") { Description = "Sync only this source (default: every source)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "List what would be added, changed, disabled and removed; change nothing." };
        var delta = new Option<bool>("--delta") { Description = "Read only what changed since the last sync (modifyTimestamp / uSNChanged); deletions are found only by a full sync." };
        var sync = new Command("sync", "Sync users and groups from the directory sources now.") { source, dryRun, delta };
        sync.SetNodeAction(console, async (node, parse, ct) =>
        {
            var synced = await node.GetRequiredService<DirectorySyncService>().SyncAsync(Caller.Operator, parse.GetValue(source), parse.GetValue(dryRun), parse.GetValue(delta), ct);
            if (synced.Value is not { } reports)
            {
                return console.Fail(synced.Refusal!);
            }

            foreach (var report in reports)
            {
                if (report.DryRun)
                {
                    PrintPlan(console, report.Plan);
                }
                else
                {
                    foreach (var skipped in report.Plan.Skipped)
                    {
                        console.Out.WriteLine($"  skip {skipped}");
                    }
                }

                console.Out.WriteLine($"{report.Source}: {report.Outcome}{(report.DryRun && !report.Stopped ? " Dry run: nothing was changed." : "")}");
            }

            return reports.Any(r => r.Stopped) ? 1 : 0;
        });
        return sync;
    }

    private static void PrintPlan(CliConsole console, DirectorySyncPlan plan)
    {
        foreach (var line in plan.Lines())
        {
            console.Out.WriteLine($"  {line}");
        }
    }

    private static Command CreateSourceSet(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The source's name (letters, digits, '.', '_', '-', '@'); synced users and groups are marked with it." };
        var url = new Option<string?>("--url") { Description = "ldaps://host[:port], or ldap://host[:port] with StartTLS." };
        var tls = new Option<string?>("--tls") { Description = "ldaps, starttls (the default for ldap://) or none (only to a loopback server)." };
        var trust = new Option<string?>("--trust") { Description = "system (default), or the absolute path of a PEM file of the CAs to trust." };
        var bindDn = new Option<string?>("--bind-dn") { Description = "The DN Herald binds as (a read-only service account)." };
        var baseDn = new Option<string[]>("--base-dn") { Description = "A base DN to search under; repeatable; the list replaces the stored one." };
        var schema = new Option<string?>("--schema") { Description = "openldap (default) or active-directory: the default filters, attributes and delta mark." };
        var userFilter = new Option<string?>("--user-filter") { Description = "LDAP filter of the users to sync." };
        var groupFilter = new Option<string?>("--group-filter") { Description = "LDAP filter of the groups to sync." };
        var idAttribute = new Option<string?>("--id-attribute") { Description = "The user's id (uid; sAMAccountName)." };
        var nameAttribute = new Option<string?>("--name-attribute") { Description = "The user's display name (cn; displayName)." };
        var mailAttribute = new Option<string?>("--mail-attribute") { Description = "The user's email address (mail)." };
        var timeZoneAttribute = new Option<string?>("--time-zone-attribute") { Description = "An attribute holding an IANA time zone (none by default; \"\" for none)." };
        var languageAttribute = new Option<string?>("--language-attribute") { Description = "An attribute holding a BCP 47 language (preferredLanguage; \"\" for none)." };
        var groupIdAttribute = new Option<string?>("--group-id-attribute") { Description = "The group's id (cn; sAMAccountName)." };
        var groupNameAttribute = new Option<string?>("--group-name-attribute") { Description = "The group's display name (cn)." };
        var memberAttribute = new Option<string?>("--member-attribute") { Description = "The group's member DNs (member)." };
        var nested = new Option<string?>("--nested") { Description = "member (follow member values naming groups) or in-chain (Active Directory's LDAP_MATCHING_RULE_IN_CHAIN)." };
        var pageSize = new Option<int?>("--page-size") { Description = $"Entries per page of a paged search (default {DirectorySourceSettings.DefaultPageSize})." };
        var removalLimit = new Option<int?>("--removal-limit") { Description = $"Percent of the source's users (or groups) a sync may disable or remove before it stops (default {DirectorySourceSettings.DefaultRemovalLimitPercent})." };
        var graceDays = new Option<int?>("--grace-days") { Description = $"Days a user gone from the source stays disabled before removal (default {DirectorySourceSettings.DefaultGraceDays})." };
        var interval = new Option<int?>("--interval-minutes") { Description = $"Minutes between scheduled syncs in herald serve; 0 for none (default {DirectorySourceSettings.DefaultIntervalMinutes})." };
        var fullHours = new Option<int?>("--full-sync-hours") { Description = $"Scheduled syncs read deltas; a full one at least this often (default {DirectorySourceSettings.DefaultFullSyncHours})." };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the bind password from standard input." };
        var passwordFile = new Option<FileInfo?>("--password-file") { Description = "Read the bind password from the first line of this file." };
        var set = new Command("set", "Add or change a directory source; options left out keep their values. The bind password is prompted for (or read from standard input or a file), sealed, and never shown.")
        {
            name, url, tls, trust, bindDn, baseDn, schema, userFilter, groupFilter, idAttribute, nameAttribute, mailAttribute, timeZoneAttribute,
            languageAttribute, groupIdAttribute, groupNameAttribute, memberAttribute, nested, pageSize, removalLimit, graceDays, interval, fullHours,
            passwordStdin, passwordFile,
        };
        set.SetNodeAction(console, async (node, parse, ct) =>
        {
            var service = node.GetRequiredService<DirectorySyncService>();
            string? password = null;
            if (parse.GetValue(passwordFile) is { } file)
            {
                try
                {
                    password = (await File.ReadAllLinesAsync(file.FullName, ct)).FirstOrDefault();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    return console.Fail($"Cannot read the password file: {ex.Message}");
                }

                if (string.IsNullOrEmpty(password))
                {
                    return console.Fail("The password file's first line is empty; nothing was saved.");
                }
            }
            else if (parse.GetValue(passwordStdin)
                || (console.InteractiveInput && (await service.FindSourceAsync(Caller.Operator, parse.GetValue(name), ct)).Value is null))
            {
                password = console.ReadSecret("Bind password: ");
                if (password is null)
                {
                    return console.Fail("No bind password was given; nothing was saved.");
                }
            }

            var update = new DirectorySourceUpdate(parse.GetValue(name))
            {
                Url = parse.GetValue(url),
                Tls = parse.GetValue(tls),
                Trust = parse.GetValue(trust),
                BindDn = parse.GetValue(bindDn),
                BaseDns = parse.GetResult(baseDn) is null ? null : parse.GetValue(baseDn),
                Schema = parse.GetValue(schema),
                UserFilter = parse.GetValue(userFilter),
                GroupFilter = parse.GetValue(groupFilter),
                IdAttribute = parse.GetValue(idAttribute),
                NameAttribute = parse.GetValue(nameAttribute),
                MailAttribute = parse.GetValue(mailAttribute),
                TimeZoneAttribute = parse.GetValue(timeZoneAttribute),
                LanguageAttribute = parse.GetValue(languageAttribute),
                GroupIdAttribute = parse.GetValue(groupIdAttribute),
                GroupNameAttribute = parse.GetValue(groupNameAttribute),
                MemberAttribute = parse.GetValue(memberAttribute),
                Nested = parse.GetValue(nested),
                PageSize = parse.GetValue(pageSize),
                RemovalLimitPercent = parse.GetValue(removalLimit),
                GraceDays = parse.GetValue(graceDays),
                IntervalMinutes = parse.GetValue(interval),
                FullSyncHours = parse.GetValue(fullHours),
            };
            var saved = await service.SaveSourceAsync(Caller.Operator, update, password, ct);
            if (saved.Value is not { } result)
            {
                return console.Fail(saved.Refusal!);
            }

            console.Out.WriteLine($"{(result.Created ? "Added" : "Changed")} directory source {result.Value.Name} ({result.Value.Settings.Url}); the bind password is sealed.");
            return 0;
        });
        return set;
    }

    private static Command CreateSourceShow(CliConsole console)
    {
        var name = new Argument<string?>("name") { Description = "The source (default: every source).", Arity = ArgumentArity.ZeroOrOne };
        var show = new Command("show", "Show directory sources' settings and last sync (never the password).") { name };
        show.SetNodeAction(console, async (node, parse, ct) =>
        {
            var service = node.GetRequiredService<DirectorySyncService>();
            IReadOnlyList<DirectorySource> shown;
            if (parse.GetValue(name) is { } one)
            {
                var found = await service.FindSourceAsync(Caller.Operator, one, ct);
                if (found.Value is not { } source)
                {
                    return console.Fail(found.Refusal!);
                }

                shown = [source];
            }
            else
            {
                var listed = await service.ListSourcesAsync(Caller.Operator, ct);
                if (listed.Value is not { } all)
                {
                    return console.Fail(listed.Refusal!);
                }

                shown = all;
            }

            foreach (var source in shown)
            {
                var s = source.Settings;
                var a = s.Attributes;
                console.Out.WriteLine($"{source.Name}");
                console.Out.WriteLine($"  url            {s.Url} (tls {DirectorySourceNames.Tls.NameOf(s.Tls)}, trust {s.CaFile ?? "system"})");
                console.Out.WriteLine($"  bind           {s.BindDn}, password {(source.BindPassword is null ? "not set" : "sealed")}");
                console.Out.WriteLine($"  base DNs       {string.Join("; ", s.BaseDns)}");
                console.Out.WriteLine($"  schema         {DirectorySourceNames.Schema.NameOf(s.Schema)}, nested groups {DirectorySourceNames.Nested.NameOf(s.Nested)}");
                console.Out.WriteLine($"  users          {s.UserFilter} (id {a.Id}, name {a.Name}, mail {a.Mail}, time zone {a.TimeZone ?? "-"}, language {a.Language ?? "-"})");
                console.Out.WriteLine($"  groups         {s.GroupFilter} (id {a.GroupId}, name {a.GroupName}, members {a.Member})");
                console.Out.WriteLine($"  paging         {s.PageSize} per page; removal limit {s.RemovalLimitPercent}%; grace {s.GraceDays} days");
                console.Out.WriteLine($"  schedule       {(s.IntervalMinutes == 0 ? "none" : $"every {s.IntervalMinutes} min")}, full at least every {s.FullSyncHours} h");
                console.Out.WriteLine($"  last sync      {(source.LastSyncAt is { } at ? $"{at:u}: {source.LastOutcome}" : "never")}");
            }

            return 0;
        });
        return show;
    }

    private static Command CreateSourceRemove(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The source." };
        var remove = new Command("remove", "Remove a directory source and its password; its users and groups stay, as local ones.") { name };
        remove.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (await node.GetRequiredService<DirectorySyncService>().RemoveSourceAsync(Caller.Operator, parse.GetValue(name), ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed directory source {parse.GetValue(name)}; its users and groups are local now.");
            return 0;
        });
        return remove;
    }
}
