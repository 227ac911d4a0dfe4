using System.Runtime.CompilerServices;

namespace Herald.IntegrationTests.Fixtures;

internal static class LegacyCharsets
{
    /// <summary>Tests read delivered mail as a mail client would, in Shift_JIS or ISO-2022-JP
    /// too, which .NET decodes only once its code pages are registered. Herald registers them
    /// when its services are built, so whether a test could read such a subject depended on
    /// which tests had run before it (a fresh-clone run failed on it); now they are registered
    /// before any test runs.</summary>
    [ModuleInitializer]
    internal static void Register() => Herald.Settings.Charsets.EnsureRegistered();
}
