namespace Automations.Contracts;

/// <summary>Artifact event types, named as in W&amp;B.</summary>
public static class EventTypes
{
    public const string CreateArtifact = "CREATE_ARTIFACT";
    public const string LinkArtifact = "LINK_ARTIFACT";
    public const string AddArtifactAlias = "ADD_ARTIFACT_ALIAS";

    public static readonly IReadOnlyList<string> All = [CreateArtifact, LinkArtifact, AddArtifactAlias];

    public static bool IsKnown(string? type) => type is CreateArtifact or LinkArtifact or AddArtifactAlias;
}
