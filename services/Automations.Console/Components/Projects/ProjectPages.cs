namespace Automations.Console.Components.Projects;

/// <summary>The console's addresses of the Projects pages (a null project: the team scope).</summary>
public static class ProjectPages
{
    private static string Seg(string s) => Uri.EscapeDataString(s);

    public static string Tab(string entity, string? project) =>
        project is null ? $"/{Seg(entity)}/automations" : $"/{Seg(entity)}/projects/{Seg(project)}/automations";

    public static string Automation(string entity, string? project, Guid id) => $"{Tab(entity, project)}/{id}";

    /// <summary>The New automation wizard (another folder's pages).</summary>
    public static string New(string entity, string? project) => $"{Tab(entity, project)}/new";
}
