#version 330 core
// Fragment shader for visualize's pyrender scenes (replaces pyrender's PBR mesh.frag).
//
// Soft, cheap lighting for a software rasteriser: hemisphere ambient (sky above, floor
// bounce below) plus wrapped-Lambert directional lights with a mild Blinn-Phong highlight,
// distance fog into the background colour, gamma 2 output (linear = sRGB squared).
//
// Material fields as this shader reads them (pyrender sets them from
// MetallicRoughnessMaterial): base_color_factor = linear RGBA colour; roughness_factor =
// highlight spread; emissive_factor e adds e*e (as pyrender's shader does);
// metallic_factor > 0.5 marks FLOOR surfaces: their colour is base_color_factor times an
// anti-aliased (box-filtered) checkerboard computed from the world x, z, and their normal
// is +Y. Drop shadows are floor surfaces with a darker base colour.
//
// VIS_* names are replaced by visualize.scene before compiling.

struct DirectionalLight {
    vec3 color;
    float intensity;
    vec3 direction;
};

struct Material {
    vec3 emissive_factor;
    vec4 base_color_factor;
    float metallic_factor;
    float roughness_factor;
};

uniform Material material;
uniform DirectionalLight directional_lights[MAX_DIRECTIONAL_LIGHTS];
uniform int n_directional_lights;
uniform vec3 cam_pos;
uniform vec3 ambient_light;

in vec3 frag_position;
in vec3 frag_normal;

out vec4 frag_color;

// 0 on tiles of colour A, 1 on tiles of colour B, box-filtered over the pixel footprint
float checker(vec2 p)
{
    vec2 w = fwidth(p) + 1e-4;
    vec2 i = 2.0 * (abs(fract((p - 0.5 * w) * 0.5) - 0.5) - abs(fract((p + 0.5 * w) * 0.5) - 0.5)) / w;
    return 0.5 - 0.5 * i.x * i.y;
}

void main()
{
    vec4 base = material.base_color_factor;
    vec3 v = cam_pos - frag_position;
    float dist = length(v);
    v /= dist;
    vec3 color;
    if (material.metallic_factor > 0.5) {
        // floor (or a drop shadow on it): normal +Y, no highlight, lit like the floor
        base.rgb *= mix(VIS_FLOOR_A, VIS_FLOOR_B, checker(frag_position.xz / VIS_TILE));
        vec3 light = ambient_light;
        for (int i = 0; i < n_directional_lights; i++) {
            float ndl = -directional_lights[i].direction.y;
            light += max((ndl + VIS_WRAP) / (1.0 + VIS_WRAP), 0.0) * directional_lights[i].color
                     * (directional_lights[i].intensity / 3.14159265);
        }
        color = base.rgb * light;
    } else {
        vec3 n = normalize(frag_normal);
        // hemisphere ambient: sky from above, a darker bounce from below
        color = base.rgb * ambient_light * mix(VIS_GROUND_TINT, vec3(1.0), 0.5 + 0.5 * n.y);
        float shininess = mix(64.0, 8.0, clamp(material.roughness_factor, 0.0, 1.0));
        float spec_strength = 0.25 * (1.0 - material.roughness_factor);
        for (int i = 0; i < n_directional_lights; i++) {
            vec3 l = -directional_lights[i].direction;
            vec3 radiance = directional_lights[i].color * (directional_lights[i].intensity / 3.14159265);
            float ndl = dot(n, l);
            float wrapped = max((ndl + VIS_WRAP) / (1.0 + VIS_WRAP), 0.0);
            vec3 h = normalize(l + v);
            float spec = ndl > 0.0 ? spec_strength * pow(max(dot(n, h), 0.0), shininess) : 0.0;
            color += (base.rgb * wrapped + spec) * radiance;
        }
        color += material.emissive_factor * material.emissive_factor;
    }
    color = mix(color, VIS_FOG_COLOR, smoothstep(VIS_FOG_START, VIS_FOG_END, dist));
    // gamma 2 (colours given to the shader are squared sRGB): sqrt is much cheaper than pow
    frag_color = vec4(sqrt(clamp(color, 0.0, 1.0)), base.a);
}
